-- ts.plot: small SVG charts in plain Lua, for looking at training without
-- another program: ts.plot.lines{...} (curves, a legend, an optional right
-- axis) and ts.plot.heatmap{...} (a confusion matrix). Both return the SVG
-- text and write it to opts.file when given. Sizes are in pixels; the text is
-- sized to stay legible when the picture is shown 800 pixels wide.
return function(ts, I)
  local is_tensor, is_node = I.is_tensor, I.is_node
  local plot = {}
  ts.plot = plot

  local FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
  -- Tableau's ten colours: distinct, and readable on white.
  local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf" }

  ---------------------------------------------------------------- checks

  local function fail(fname, fmt, ...) error(fname .. ": " .. fmt:format(...), 0) end

  -- Errors are raised at the caller of the public function: level 0 messages
  -- re-raised by the wrappers below with the right level.
  local function public(fname, f)
    return function(...)
      local ok, r = pcall(f, fname, ...)
      if not ok then error(r, 2) end
      return r
    end
  end

  local function typename(v)
    if is_tensor(v) then return "a tensor" end
    if is_node(v) then return "a graph node" end
    return type(v)
  end

  local function check_opts(fname, what, opts, known)
    if type(opts) ~= "table" or is_tensor(opts) or is_node(opts) then
      fail(fname, "%s must be a table, got %s", what, typename(opts))
    end
    for k in pairs(opts) do
      if not known[k] then
        local names = {}
        for n in pairs(known) do names[#names + 1] = n end
        table.sort(names)
        fail(fname, "unknown option %s in %s (options are %s)",
          type(k) == "string" and "'" .. k .. "'" or tostring(k), what, table.concat(names, ", "))
      end
    end
  end

  local function check_string(fname, what, v, optional)
    if v == nil and optional then return nil end
    if type(v) ~= "string" then fail(fname, "%s must be a string, got %s", what, typename(v)) end
    if not utf8.len(v) then fail(fname, "%s is not valid UTF-8", what) end
    return v
  end

  local function check_size(fname, what, v, default)
    if v == nil then return default end
    local n = math.tointeger(v)
    if not n or n < 100 or n > 10000 then
      fail(fname, "%s must be an integer from 100 to 10000, got %s", what,
        type(v) == "number" and tostring(v) or typename(v))
    end
    return n
  end

  -- A flat array of numbers from a 1-D tensor or an array of numbers.
  local function numbers(fname, what, v)
    if is_tensor(v) then
      if v:dim() ~= 1 then fail(fname, "%s must be a 1-D tensor, got %d dimensions", what, v:dim()) end
      return v:numel() == 0 and {} or v:totable()
    end
    if type(v) ~= "table" or is_node(v) then
      fail(fname, "%s must be an array of numbers or a 1-D tensor, got %s", what, typename(v))
    end
    local r = {}
    for i = 1, rawlen(v) do
      local x = rawget(v, i)
      if type(x) ~= "number" then fail(fname, "%s[%d] must be a number, got %s", what, i, typename(x)) end
      r[i] = x
    end
    return r
  end

  local function check_range(fname, what, v)
    if v == nil then return nil end
    if type(v) ~= "table" or rawlen(v) ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number"
      or v[1] ~= v[1] or v[2] ~= v[2] or v[1] >= v[2] or v[1] == -math.huge or v[2] == math.huge then
      fail(fname, "%s must be {low, high} with finite low < high", what)
    end
    return { v[1], v[2] }
  end

  local function check_color(fname, what, v)
    if v == nil then return nil end
    if type(v) ~= "string" or not (v:match("^#%x%x%x$") or v:match("^#%x%x%x%x%x%x$")
      or v:match("^%a+$")) then
      fail(fname, "%s must be a colour such as \"#1f77b4\" or \"red\", got %s", what,
        type(v) == "string" and ("%q"):format(v) or typename(v))
    end
    return v
  end

  ---------------------------------------------------------------- SVG text

  local function esc(s)
    return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
      ['"'] = "&quot;", ["'"] = "&#39;" }))
  end

  local function px(v) return (("%.1f"):format(v):gsub("%.0$", "")) end

  -- Estimated width of a text in pixels (DejaVu Sans averages ~0.5 em; kept generous).
  local function text_width(s, size) return (utf8.len(s) or #s) * size * 0.56 end

  local function text(out, x, y, s, attrs)
    out[#out + 1] = ('<text x="%s" y="%s"%s>%s</text>'):format(px(x), px(y), attrs or "", esc(s))
  end

  local function finish(fname, out, file)
    out[#out + 1] = "</svg>\n"
    local svg = table.concat(out, "\n")
    if file ~= nil then
      local f, err = io.open(file, "w")
      if not f then fail(fname, "cannot write %s", tostring(err)) end
      local ok, werr = f:write(svg)
      f:close()
      if not ok then fail(fname, "cannot write %s: %s", file, tostring(werr)) end
    end
    return svg
  end

  local function open_svg(w, h)
    return {
      ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        .. 'font-family="%s">'):format(w, h, w, h, FONT),
      ('<rect x="0" y="0" width="%d" height="%d" fill="white"/>'):format(w, h),
    }
  end

  ---------------------------------------------------------------- ticks

  -- Round tick values covering [lo, hi], about `target` of them, and the labels' format.
  local function ticks(lo, hi, target)
    local step = (hi - lo) / math.max(target, 1)
    local mag = 10 ^ math.floor(math.log(step, 10))
    local norm = step / mag
    step = (norm < 1.5 and 1 or norm < 3 and 2 or norm < 7 and 5 or 10) * mag
    local first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    local decimals = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
    local big = math.max(math.abs(lo), math.abs(hi))
    local fmt = (big >= 1e6 or (big > 0 and big < 1e-4)) and "%.3g" or ("%." .. decimals .. "f")
    local r = {}
    for k = first, last do
      local v = k * step
      if math.abs(v) < step * 1e-9 then v = 0 end
      r[#r + 1] = { v = v, label = fmt:format(v) }
    end
    return r
  end

  -- The shown range of values: their range widened by a margin, or lim.
  local function range_of(vals, lim, pad)
    if lim then return lim[1], lim[2] end
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(vals) do
      if v == v and v > -math.huge and v < math.huge then
        if v < lo then lo = v end
        if v > hi then hi = v end
      end
    end
    if lo > hi then return 0, 1 end
    if lo == hi then
      local d = lo == 0 and 1 or math.abs(lo) * 0.1
      return lo - d, hi + d
    end
    local d = (hi - lo) * pad
    return lo - d, hi + d
  end

  ---------------------------------------------------------------- lines

  local line_keys = { series = true, panels = true, title = true, xlabel = true, ylabel = true,
    y2label = true, width = true, height = true, xlim = true, ylim = true, y2lim = true, file = true,
    legend = true, grid = true }
  local panel_keys = { series = true, ylabel = true, y2label = true, ylim = true, y2lim = true }
  local series_keys = { name = true, x = true, y = true, color = true, axis = true, marker = true,
    line_width = true, opacity = true, dash = true }

  -- One panel's options checked: {series = {...}, sides = {left=, right=}, ylabel, ...};
  -- count numbers the series across panels (default names and colours).
  local function read_panel(fname, where, p, count)
    local ylabel = check_string(fname, where .. "ylabel", p.ylabel, true)
    local y2label = check_string(fname, where .. "y2label", p.y2label, true)
    local ylim = check_range(fname, where .. "ylim", p.ylim)
    local y2lim = check_range(fname, where .. "y2lim", p.y2lim)
    local S = p.series
    if type(S) ~= "table" or is_tensor(S) or is_node(S) or rawlen(S) == 0 then
      fail(fname, "%sseries must be a non-empty array of {name=, x=, y=} tables, got %s", where,
        type(S) == "table" and "an empty table" or typename(S))
    end
    local series, sides = {}, { left = 0, right = 0 }
    for i = 1, rawlen(S) do
      local s = rawget(S, i)
      local what = ("%sseries[%d]"):format(where, i)
      check_opts(fname, what, s, series_keys)
      if s.y == nil then fail(fname, "%s needs y", what) end
      local y = numbers(fname, what .. ".y", s.y)
      local x
      if s.x == nil then
        x = {}
        for k = 1, #y do x[k] = k end
      else
        x = numbers(fname, what .. ".x", s.x)
      end
      if #x ~= #y then fail(fname, "%s: x has %d values and y %d", what, #x, #y) end
      if #y == 0 then fail(fname, "%s has no points", what) end
      local axis = s.axis or "left"
      if axis ~= "left" and axis ~= "right" then
        fail(fname, "%s.axis must be \"left\" or \"right\", got %s", what, tostring(axis))
      end
      if s.marker ~= nil and type(s.marker) ~= "boolean" then
        fail(fname, "%s.marker must be a boolean", what)
      end
      if s.dash ~= nil and type(s.dash) ~= "boolean" then fail(fname, "%s.dash must be a boolean", what) end
      local lw = s.line_width or 2
      if type(lw) ~= "number" or not (lw > 0 and lw <= 20) then
        fail(fname, "%s.line_width must be a number in (0, 20]", what)
      end
      local op = s.opacity or 1
      if type(op) ~= "number" or not (op > 0 and op <= 1) then
        fail(fname, "%s.opacity must be a number in (0, 1]", what)
      end
      count = count + 1
      series[i] = { name = check_string(fname, what .. ".name", s.name, true) or ("series " .. count),
        x = x, y = y, axis = axis, marker = s.marker == nil and #y <= 40 or s.marker == true,
        color = check_color(fname, what .. ".color", s.color) or PALETTE[(count - 1) % #PALETTE + 1],
        line_width = lw, opacity = op, dash = s.dash }
      sides[axis] = sides[axis] + 1
    end
    if sides.right == 0 and (y2label or y2lim) then
      fail(fname, "%sy2label and y2lim need a series with axis = \"right\"", where)
    end
    return { series = series, sides = sides, ylabel = ylabel, y2label = y2label, ylim = ylim,
      y2lim = y2lim }, count
  end

  local clips = 0
  local function lines(fname, opts)
    check_opts(fname, "the options", opts, line_keys)
    local W = check_size(fname, "width", opts.width, 800)
    local title = check_string(fname, "title", opts.title, true)
    local xlabel = check_string(fname, "xlabel", opts.xlabel, true)
    check_string(fname, "file", opts.file, true)
    local xlim = check_range(fname, "xlim", opts.xlim)
    for _, k in ipairs { "legend", "grid" } do
      if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
        fail(fname, "%s must be a boolean, got %s", k, typename(opts[k]))
      end
    end

    -- Panels stacked on one x axis; without `panels`, the options are the one panel.
    local panels, count = {}, 0
    if opts.panels ~= nil then
      for _, k in ipairs { "series", "ylabel", "y2label", "ylim", "y2lim" } do
        if opts[k] ~= nil then fail(fname, "give %s in each of panels, not beside them", k) end
      end
      local P = opts.panels
      if type(P) ~= "table" or is_tensor(P) or is_node(P) or rawlen(P) == 0 or rawlen(P) > 10 then
        fail(fname, "panels must be an array of 1 to 10 {series=, ylabel=, ...} tables")
      end
      for i = 1, rawlen(P) do
        local where = ("panels[%d]"):format(i)
        check_opts(fname, where, rawget(P, i), panel_keys)
        panels[i], count = read_panel(fname, where .. ".", rawget(P, i), count)
      end
    else
      panels[1] = read_panel(fname, "", opts, count)
    end
    local H = check_size(fname, "height", opts.height, #panels == 1 and 480 or 300 + 180 * #panels)

    local TICK, LABEL, TITLE, LEGEND = 14, 16, 20, 15
    local function widest(tk)
      local w = 0
      for _, t in ipairs(tk) do w = math.max(w, text_width(t.label, TICK)) end
      return w
    end

    -- Value ranges and ticks: x shared, without padding; y per panel, 5% on each side.
    local xs, left, rightm, any_right = {}, 0, 0, false
    for _, P in ipairs(panels) do
      local ys, y2s = {}, {}
      for _, s in ipairs(P.series) do
        for k = 1, #s.x do xs[#xs + 1] = s.x[k] end
        local into = s.axis == "right" and y2s or ys
        for k = 1, #s.y do into[#into + 1] = s.y[k] end
      end
      P.y0, P.y1 = range_of(ys, P.ylim, 0.05)
      P.r0, P.r1 = range_of(y2s, P.y2lim, 0.05)
      -- only a right axis: it is drawn on the left
      if P.sides.left == 0 then P.y0, P.y1, P.ylabel = P.r0, P.r1, P.ylabel or P.y2label end
      P.twin = P.sides.left > 0 and P.sides.right > 0
      P.ytk = ticks(P.y0, P.y1, 6)
      P.y2tk = P.twin and ticks(P.r0, P.r1, 6) or {}
      left = math.max(left, 12 + (P.ylabel and LABEL + 12 or 0) + widest(P.ytk) + 10)
      if P.twin then
        any_right = true
        rightm = math.max(rightm, 12 + (P.y2label and LABEL + 12 or 0) + widest(P.y2tk) + 10)
      end
    end
    if not any_right then rightm = 28 end
    local x0, x1 = range_of(xs, xlim, 0)

    -- Legend entries laid out in rows under the title.
    local entries = {}
    if opts.legend ~= false then
      for _, P in ipairs(panels) do
        for _, s in ipairs(P.series) do
          local label = s.name .. ((P.twin and s.axis == "right") and " (right axis)" or "")
          entries[#entries + 1] = { s = s, label = label, w = 34 + text_width(label, LEGEND) + 22 }
        end
      end
    end
    local plot_w = W - left - rightm
    local rows, row = {}, { w = 0 }
    for _, e in ipairs(entries) do
      if row.w + e.w > plot_w and #row > 0 then
        rows[#rows + 1] = row
        row = { w = 0 }
      end
      row[#row + 1] = e
      row.w = row.w + e.w
    end
    if #row > 0 then rows[#rows + 1] = row end
    local top = 14 + (title and TITLE + 12 or 0) + #rows * (LEGEND + 10) + 10
    local bottom = 10 + TICK + 8 + (xlabel and LABEL + 14 or 0) + 6
    local GAP = 24
    local panel_h = (H - top - bottom - GAP * (#panels - 1)) / #panels
    if plot_w < 60 or panel_h < 60 then
      fail(fname, "a %dx%d picture leaves no room for the plot (titles, labels and legend take it)", W, H)
    end

    -- x ticks: about one per 80 pixels, fewer until their labels fit side by side.
    local xtk
    for target = math.max(2, math.min(10, plot_w // 80)), 2, -1 do
      xtk = ticks(x0, x1, target)
      local room = #xtk > 1 and plot_w * (xtk[2].v - xtk[1].v) / (x1 - x0) or plot_w
      if widest(xtk) + 12 <= room then break end
    end
    local function X(v) return left + (v - x0) / (x1 - x0) * plot_w end

    local out = open_svg(W, H)
    local y = 14
    if title then
      y = y + TITLE
      text(out, W / 2, y, title, (' font-size="%d" font-weight="bold" text-anchor="middle"'):format(TITLE))
      y = y + 12
    end
    for _, r in ipairs(rows) do
      local x = left + (plot_w - r.w) / 2
      local cy = y + LEGEND / 2 + 2
      for _, e in ipairs(r) do
        local s = e.s
        out[#out + 1] = ('<g class="legend-entry"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" '
          .. 'stroke-width="3"%s%s/>'):format(px(x), px(cy), px(x + 28), px(cy), s.color,
          s.dash and ' stroke-dasharray="6 4"' or "",
          s.opacity < 1 and (' opacity="%s"'):format(math.max(s.opacity, 0.4)) or "")
        if s.marker then
          out[#out + 1] = ('<circle cx="%s" cy="%s" r="4" fill="%s"/>'):format(px(x + 14), px(cy), s.color)
        end
        text(out, x + 34, y + LEGEND, e.label, (' font-size="%d"'):format(LEGEND))
        out[#out + 1] = "</g>"
        x = x + e.w
      end
      y = y + LEGEND + 10
    end

    local grid = opts.grid ~= false
    for p, P in ipairs(panels) do
      local ptop = top + (p - 1) * (panel_h + GAP)
      local last = p == #panels
      local function Y(v, axis)
        if axis == "right" and P.twin then return ptop + (P.r1 - v) / (P.r1 - P.r0) * panel_h end
        return ptop + (P.y1 - v) / (P.y1 - P.y0) * panel_h
      end
      -- With series on both sides, each side's axis takes its series' colour when it has one.
      local function side_color(axis)
        if not P.twin or P.sides[axis] ~= 1 then return "#222" end
        for _, s in ipairs(P.series) do if s.axis == axis then return s.color end end
      end

      -- Grid, frame, ticks (x tick labels under the last panel only).
      out[#out + 1] = '<g class="axes" font-size="' .. TICK .. '" fill="#222">'
      for _, t in ipairs(xtk) do
        local x = X(t.v)
        if grid then
          out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e3e3e3"/>')
            :format(px(x), px(ptop), px(x), px(ptop + panel_h))
        end
        out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>')
          :format(px(x), px(ptop + panel_h), px(x), px(ptop + panel_h + (last and 5 or 3)))
        if last then text(out, x, ptop + panel_h + 8 + TICK, t.label, ' text-anchor="middle"') end
      end
      local laxis = P.sides.left > 0 and "left" or "right"
      for _, t in ipairs(P.ytk) do
        local yy = Y(t.v, laxis)
        if grid then
          out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e3e3e3"/>')
            :format(px(left), px(yy), px(left + plot_w), px(yy))
        end
        out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>')
          :format(px(left - 5), px(yy), px(left), px(yy))
        text(out, left - 8, yy + TICK * 0.35, t.label, ' text-anchor="end"')
      end
      if P.twin then
        local c = side_color("right")
        for _, t in ipairs(P.y2tk) do
          local yy = Y(t.v, "right")
          out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>')
            :format(px(left + plot_w), px(yy), px(left + plot_w + 5), px(yy))
          text(out, left + plot_w + 8, yy + TICK * 0.35, t.label, (' fill="%s"'):format(c))
        end
      end
      out[#out + 1] = ('<rect class="frame" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333"/>')
        :format(px(left), px(ptop), px(plot_w), px(panel_h))
      out[#out + 1] = "</g>"

      if P.ylabel then
        local cx, cy = 12 + LABEL, ptop + panel_h / 2
        text(out, cx, cy, P.ylabel, (' font-size="%d" text-anchor="middle" fill="%s"'
          .. ' transform="rotate(-90 %s %s)"'):format(LABEL, side_color("left"), px(cx), px(cy)))
      end
      if P.twin and P.y2label then
        local cx, cy = W - 12 - LABEL, ptop + panel_h / 2
        text(out, cx, cy, P.y2label, (' font-size="%d" text-anchor="middle" fill="%s"'
          .. ' transform="rotate(90 %s %s)"'):format(LABEL, side_color("right"), px(cx), px(cy)))
      end

      -- The series, clipped to the panel; a non-finite value breaks the line. Clip ids
      -- count up per process, so pictures inlined in one page keep their own.
      clips = clips + 1
      out[#out + 1] = ('<clipPath id="ts-plot-%d"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>')
        :format(clips, px(left), px(ptop), px(plot_w), px(panel_h))
      out[#out + 1] = ('<g clip-path="url(#ts-plot-%d)">'):format(clips)
      local marks = {}
      for _, s in ipairs(P.series) do
        out[#out + 1] = ('<g class="series" data-name="%s" stroke="%s" fill="%s"%s>'):format(esc(s.name),
          s.color, s.color, s.opacity < 1 and (' opacity="%s"'):format(s.opacity) or "")
        local run, finite = {}, {}
        local function flush()
          if #run > 1 then
            out[#out + 1] = ('<polyline fill="none" stroke-width="%s" stroke-linejoin="round"%s'
              .. ' points="%s"/>'):format(s.line_width, s.dash and ' stroke-dasharray="6 4"' or "",
              table.concat(run, " "))
          elseif #run == 1 and not s.marker then
            local cx, cy = run[1]:match("([^,]+),(.+)")
            out[#out + 1] = ('<circle cx="%s" cy="%s" r="%s" stroke="none"/>'):format(cx, cy,
              px(math.max(2, s.line_width)))
          end
          run = {}
        end
        for k = 1, #s.x do
          local xv, yv = s.x[k], s.y[k]
          if xv == xv and yv == yv and math.abs(xv) < math.huge and math.abs(yv) < math.huge then
            local pt = px(X(xv)) .. "," .. px(Y(yv, s.axis))
            run[#run + 1] = pt
            finite[#finite + 1] = pt
          else
            flush()
          end
        end
        flush()
        out[#out + 1] = "</g>"
        marks[#marks + 1] = s.marker and { s = s, points = finite } or nil
      end
      out[#out + 1] = "</g>"
      -- Markers outside the clip (one on the frame stays whole), those inside the panel only.
      for _, m in ipairs(marks) do
        out[#out + 1] = ('<g class="markers" data-name="%s" fill="%s">'):format(esc(m.s.name), m.s.color)
        for _, pt in ipairs(m.points) do
          local cx, cy = pt:match("([^,]+),(.+)")
          local x, yy = tonumber(cx), tonumber(cy)
          local inside = x >= left - 0.5 and x <= left + plot_w + 0.5
            and yy >= ptop - 0.5 and yy <= ptop + panel_h + 0.5
          if inside then
            out[#out + 1] = ('<circle cx="%s" cy="%s" r="4" stroke="white" stroke-width="1"/>'):format(cx, cy)
          end
        end
        out[#out + 1] = "</g>"
      end
    end

    if xlabel then
      text(out, left + plot_w / 2, H - 12, xlabel, (' font-size="%d" text-anchor="middle"'):format(LABEL))
    end
    return finish(fname, out, opts.file)
  end

  ---------------------------------------------------------------- heatmap

  local heat_keys = { matrix = true, labels = true, row_labels = true, col_labels = true,
    title = true, xlabel = true, ylabel = true, width = true, file = true, values = true,
    scale = true, colorbar = true }

  -- ColorBrewer's "Blues", white to dark blue.
  local BLUES = { { 247, 251, 255 }, { 198, 219, 239 }, { 107, 174, 214 }, { 33, 113, 181 }, { 8, 48, 107 } }
  local function blue(t)
    t = math.max(0, math.min(1, t)) * (#BLUES - 1)
    local i = math.min(math.floor(t), #BLUES - 2)
    local f, a, b = t - i, BLUES[i + 1], BLUES[i + 2]
    return ("#%02x%02x%02x"):format(math.floor(a[1] + (b[1] - a[1]) * f + 0.5),
      math.floor(a[2] + (b[2] - a[2]) * f + 0.5), math.floor(a[3] + (b[3] - a[3]) * f + 0.5))
  end

  local function label_list(fname, what, v, n)
    if v == nil then return nil end
    if type(v) ~= "table" or is_tensor(v) or is_node(v) then
      fail(fname, "%s must be an array of strings, got %s", what, typename(v))
    end
    if rawlen(v) ~= n then fail(fname, "%s has %d entries for %d %s", what, rawlen(v), n,
      what == "col_labels" and "columns" or "rows") end
    local r = {}
    for i = 1, n do
      local s = rawget(v, i)
      if type(s) == "number" then s = tostring(s) end
      r[i] = check_string(fname, ("%s[%d]"):format(what, i), s)
    end
    return r
  end

  local function heatmap(fname, opts)
    check_opts(fname, "the options", opts, heat_keys)
    local M = opts.matrix
    if is_tensor(M) then
      if M:dim() ~= 2 then fail(fname, "matrix must be 2-D, got a tensor of %d dimensions", M:dim()) end
      if M:numel() == 0 then fail(fname, "matrix is empty") end
      M = M:totable()
    elseif type(M) ~= "table" or is_node(M) then
      fail(fname, "matrix must be a 2-D tensor or an array of rows, got %s", typename(M))
    end
    local nr = rawlen(M)
    if nr == 0 then fail(fname, "matrix is empty") end
    local nc
    local vals = {}
    for i = 1, nr do
      local row = rawget(M, i)
      if type(row) ~= "table" or is_tensor(row) or is_node(row) then
        fail(fname, "matrix[%d] must be an array of numbers, got %s", i, typename(row))
      end
      nc = nc or rawlen(row)
      if nc == 0 then fail(fname, "matrix rows are empty") end
      if rawlen(row) ~= nc then
        fail(fname, "matrix rows must have the same non-zero length: row 1 has %d, row %d has %d",
          nc, i, rawlen(row))
      end
      vals[i] = numbers(fname, ("matrix[%d]"):format(i), row)
    end
    if nr > 200 or nc > 200 then fail(fname, "matrix is %dx%d: at most 200x200 cells are drawn", nr, nc) end
    if opts.labels ~= nil and (opts.row_labels ~= nil or opts.col_labels ~= nil) then
      fail(fname, "give labels (both axes) or row_labels/col_labels, not both")
    end
    if opts.labels ~= nil and nr ~= nc then
      fail(fname, "labels names both axes, but the matrix is %dx%d: give row_labels and col_labels", nr, nc)
    end
    local rl = label_list(fname, "labels", opts.labels, nr)
    local cl = rl
    if not rl then
      rl = label_list(fname, "row_labels", opts.row_labels, nr)
      cl = label_list(fname, "col_labels", opts.col_labels, nc)
    end
    if not rl then rl = {} for i = 1, nr do rl[i] = tostring(i) end end
    if not cl then cl = {} for j = 1, nc do cl[j] = tostring(j) end end
    local title = check_string(fname, "title", opts.title, true)
    local xlabel = check_string(fname, "xlabel", opts.xlabel, true)
    local ylabel = check_string(fname, "ylabel", opts.ylabel, true)
    check_string(fname, "file", opts.file, true)
    local W = check_size(fname, "width", opts.width, 800)
    local scale = opts.scale or "linear"
    if scale ~= "linear" and scale ~= "sqrt" and scale ~= "log" then
      fail(fname, "scale must be \"linear\", \"sqrt\" or \"log\", got %s", tostring(scale))
    end
    for _, k in ipairs { "values", "colorbar" } do
      if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
        fail(fname, "%s must be a boolean, got %s", k, typename(opts[k]))
      end
    end

    local lo, hi, all_int = math.huge, -math.huge, true
    for i = 1, nr do
      for j = 1, nc do
        local v = vals[i][j]
        if v == v and math.abs(v) < math.huge then
          lo, hi = math.min(lo, v), math.max(hi, v)
          if math.type(v) ~= "integer" and v ~= math.floor(v) then all_int = false end
        end
      end
    end
    if lo > hi then lo, hi = 0, 1 end
    if scale ~= "linear" and lo < 0 then
      fail(fname, "scale \"%s\" needs values >= 0 (the smallest is %s)", scale, tostring(lo))
    end
    local vmin = math.min(lo, 0)
    local function t_of(v)
      if hi == vmin then return 0 end
      if scale == "sqrt" then return math.sqrt((v - vmin) / (hi - vmin)) end
      if scale == "log" then return math.log(1 + v - vmin) / math.log(1 + hi - vmin) end
      return (v - vmin) / (hi - vmin)
    end

    local TICK, LABEL, TITLE = 14, 16, 20
    local show = opts.values
    if show == nil then show = nr <= 30 and nc <= 30 end
    local bar = opts.colorbar ~= false
    local rlw, clw = 0, 0
    for _, s in ipairs(rl) do rlw = math.max(rlw, text_width(s, TICK)) end
    for _, s in ipairs(cl) do clw = math.max(clw, text_width(s, TICK)) end
    local left = 12 + (ylabel and LABEL + 14 or 0) + rlw + 10
    local bar_labels = math.max(text_width(all_int and ("%d"):format(hi) or ("%.3g"):format(hi), TICK),
      text_width(all_int and ("%d"):format(vmin) or ("%.3g"):format(vmin), TICK))
    local rightm = bar and 24 + 18 + 8 + bar_labels + 12 or 20
    local cell = math.floor(math.min((W - left - rightm) / nc, 90))
    if cell < 8 then fail(fname, "a width of %d leaves cells under 8 pixels for %d columns", W, nc) end
    -- Column labels turned 45 degrees under the grid: their height is about width / sqrt(2).
    local top = 14 + (title and TITLE + 16 or 0)
    local grid_w, grid_h = cell * nc, cell * nr
    local col_h = clw * 0.7071 + TICK + 10
    local H = math.floor(top + grid_h + col_h + (xlabel and LABEL + 16 or 0) + 12)
    -- Cells at their largest size: a narrower picture (still as wide as the title).
    W = math.min(W, math.ceil(math.max(left + grid_w + rightm,
      title and text_width(title, TITLE) * 1.1 + 24 or 0)))
    local gx = left + math.max(0, (W - left - rightm - grid_w) / 2)
    -- Rotated labels reach left of their column: keep the first one inside the picture.
    gx = math.max(gx, clw * 0.7071 - cell / 2 + 8)

    local out = open_svg(W, H)
    if title then
      text(out, W / 2, 14 + TITLE, title, (' font-size="%d" font-weight="bold" text-anchor="middle"')
        :format(TITLE))
    end
    local vsize = math.max(8, math.min(14, math.floor(cell / 3.2)))
    out[#out + 1] = '<g class="cells">'
    for i = 1, nr do
      for j = 1, nc do
        local v = vals[i][j]
        local ok = v == v and math.abs(v) < math.huge
        local t = ok and t_of(v) or 0
        local x, yy = gx + (j - 1) * cell, top + (i - 1) * cell
        out[#out + 1] = ('<rect x="%s" y="%s" width="%d" height="%d" fill="%s" stroke="white"/>')
          :format(px(x), px(yy), cell, cell, ok and blue(t) or "#bbbbbb")
        if show then
          local s = not ok and tostring(v) or (all_int and ("%d"):format(v) or ("%.3g"):format(v))
          if text_width(s, vsize) > cell - 2 then s = ("%.2g"):format(v) end
          text(out, x + cell / 2, yy + cell / 2 + vsize * 0.35, s,
            (' font-size="%d" text-anchor="middle" fill="%s"'):format(vsize, t > 0.55 and "white" or "#222"))
        end
      end
    end
    out[#out + 1] = "</g>"
    out[#out + 1] = ('<rect x="%s" y="%s" width="%d" height="%d" fill="none" stroke="#333"/>')
      :format(px(gx), px(top), grid_w, grid_h)
    out[#out + 1] = '<g class="labels" font-size="' .. TICK .. '" fill="#222">'
    for i = 1, nr do
      text(out, gx - 8, top + (i - 0.5) * cell + TICK * 0.35, rl[i], ' text-anchor="end"')
    end
    for j = 1, nc do
      local x, yy = gx + (j - 0.5) * cell + TICK * 0.3, top + grid_h + 10
      text(out, x, yy, cl[j], (' text-anchor="end" dominant-baseline="hanging" transform="rotate(-45 %s %s)"')
        :format(px(x), px(yy)))
    end
    out[#out + 1] = "</g>"
    if xlabel then
      text(out, gx + grid_w / 2, H - 14, xlabel, (' font-size="%d" text-anchor="middle"'):format(LABEL))
    end
    if ylabel then
      local cx, cy = gx - rlw - 22, top + grid_h / 2
      text(out, cx, cy, ylabel, (' font-size="%d" text-anchor="middle" transform="rotate(-90 %s %s)"')
        :format(LABEL, px(cx), px(cy)))
    end
    if bar then
      -- The colour bar: the scale's gradient in 50 bands, ticks at round values.
      local bx, bw = gx + grid_w + 24, 18
      out[#out + 1] = '<g class="colorbar">'
      for k = 0, 49 do
        out[#out + 1] = ('<rect x="%s" y="%s" width="%d" height="%s" fill="%s"/>'):format(px(bx),
          px(top + grid_h * (49 - k) / 50), bw, px(grid_h / 50 + 0.5), blue((k + 0.5) / 50))
      end
      out[#out + 1] = ('<rect x="%s" y="%s" width="%d" height="%d" fill="none" stroke="#333"/>')
        :format(px(bx), px(top), bw, grid_h)
      -- Tick positions go through the scale (t_of), so sqrt and log bars are labelled truly.
      for _, t in ipairs(ticks(vmin, hi, 5)) do
        if t.v >= vmin and t.v <= hi then
          local yy = top + grid_h * (1 - t_of(t.v))
          out[#out + 1] = ('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>')
            :format(px(bx + bw), px(yy), px(bx + bw + 5), px(yy))
          text(out, bx + bw + 8, yy + TICK * 0.35,
            all_int and t.v == math.floor(t.v) and ("%d"):format(t.v) or t.label,
            (' font-size="%d"'):format(TICK))
        end
      end
      out[#out + 1] = "</g>"
    end
    return finish(fname, out, opts.file)
  end

  plot.lines = public("ts.plot.lines", lines)
  plot.heatmap = public("ts.plot.heatmap", heatmap)
end
