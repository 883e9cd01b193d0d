-- ts.plot: the SVG is parsed by a small strict XML reader (balanced tags,
-- quoted attributes, no duplicate attribute, known entities only), then its
-- elements are checked: texts, series, points and their coordinates.
local ts = require "tensorslow"
local H = require "helpers"

local S = H.scratch()

local ENT = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'" }
local function unescape(s, where)
  return (s:gsub("&(#?%w*);?", function(e)
    if ENT[e] then return ENT[e] end
    local n = e:match("^#(%d+)$")
    if n then return utf8.char(tonumber(n)) end
    error(("bad entity &%s in %s"):format(e, where), 0)
  end))
end

-- The element tree of an XML text: {name=, attrs={}, children={}, text=}.
local function parse_xml(s)
  assert(utf8.len(s), "not UTF-8")
  local root = { children = {} }
  local stack, pos = { root }, 1
  while true do
    local lt = s:find("<", pos, true)
    local text = s:sub(pos, (lt or #s + 1) - 1)
    local top = stack[#stack]
    if text:find("%S") then
      assert(#stack > 1, "text outside the root element")
      top.text = (top.text or "") .. unescape(text, "text")
    end
    if not lt then break end
    if s:sub(lt, lt + 3) == "<!--" then
      pos = assert(s:find("-->", lt, true), "unterminated comment") + 3
    else
      local gt = assert(s:find(">", lt, true), "unterminated tag")
      local tag = s:sub(lt + 1, gt - 1)
      if tag:sub(1, 1) == "/" then
        local name = assert(tag:match("^/([%a_][%w:_.-]*)%s*$"), "bad end tag " .. tag)
        local open = table.remove(stack)
        assert(open.name == name, ("</%s> closes <%s>"):format(name, tostring(open.name)))
      else
        local empty = tag:sub(-1) == "/"
        if empty then tag = tag:sub(1, -2) end
        local name, rest = tag:match("^([%a_][%w:_.-]*)(.*)$")
        assert(name, "bad tag <" .. tag .. ">")
        local el = { name = name, attrs = {}, children = {} }
        local left = rest:gsub('%s+([%a_:][%w:_.-]*)="([^"<]*)"', function(k, v)
          assert(el.attrs[k] == nil, "duplicate attribute " .. k)
          el.attrs[k] = unescape(v, "attribute " .. k)
          return ""
        end)
        assert(left:match("^%s*$"), ("bad attributes in <%s>: %q"):format(name, left))
        assert(#stack > 1 or #root.children == 0, "a second root element")
        table.insert(top.children, el)
        if not empty then stack[#stack + 1] = el end
      end
      pos = gt + 1
    end
  end
  assert(#stack == 1, "unclosed <" .. tostring(stack[#stack].name) .. ">")
  assert(#root.children == 1, "no root element")
  return root.children[1]
end

-- Every element below el (depth first) for which pred(e) holds.
local function find(el, pred, out)
  out = out or {}
  for _, c in ipairs(el.children) do
    if pred(c) then out[#out + 1] = c end
    find(c, pred, out)
  end
  return out
end
local function texts(svg)
  local r = {}
  for _, t in ipairs(find(svg, function(e) return e.name == "text" end)) do r[#r + 1] = t.text end
  return r
end
local function has_text(svg, s)
  for _, t in ipairs(texts(svg)) do if t == s then return true end end
  return false
end
local function points(el)
  local r = {}
  for _, pl in ipairs(find(el, function(e) return e.name == "polyline" end)) do
    for x, y in pl.attrs.points:gmatch("([-%d.]+),([-%d.]+)") do r[#r + 1] = { tonumber(x), tonumber(y) } end
  end
  return r
end
local function group(svg, class, name)
  local g = find(svg, function(e) return e.attrs.class == class and e.attrs["data-name"] == name end)
  assert(#g == 1, ("%d groups of class %s named %s"):format(#g, class, name))
  return g[1]
end
local function frame(svg)
  local f = find(svg, function(e) return e.name == "rect" and e.attrs.class == "frame" end)
  assert(#f == 1)
  local a = f[1].attrs
  return tonumber(a.x), tonumber(a.y), tonumber(a.width), tonumber(a.height)
end

describe("the spec's XML reader", function()
  it("refuses what is not well-formed", function()
    for _, bad in ipairs { "<a><b></a></b>", "<a>", "<a x=1/>", '<a x="1" x="2"/>', "<a>&nope;</a>",
      "<a/><b/>", "<a>x < y</a>", "text" } do
      assert.is_false(pcall(parse_xml, bad), bad)
    end
    assert.are.equal("1 & 2", parse_xml('<a k="&lt;"><b>1 &amp; 2</b></a>').children[1].text)
  end)
end)

describe("ts.plot.lines", function()
  before_each(S.setup)
  after_each(S.teardown)

  it("draws well-formed SVG: title, axis labels, ticks, a legend with every series", function()
    local text = ts.plot.lines {
      title = "Loss & accuracy <test>", xlabel = "epoch", ylabel = "loss",
      series = {
        { name = "train", y = { 3, 2, 1.5, 1.2 } },
        { name = "valid \"set\"", x = { 1, 2, 3, 4 }, y = { 3.2, 2.4, 2, 1.9 } },
      },
    }
    local svg = parse_xml(text)
    assert.are.equal("svg", svg.name)
    assert.are.equal("http://www.w3.org/2000/svg", svg.attrs.xmlns)
    assert.are.equal("800", svg.attrs.width)
    assert.are.equal("480", svg.attrs.height)
    assert.are.equal("0 0 800 480", svg.attrs.viewBox)
    for _, s in ipairs { "Loss & accuracy <test>", "epoch", "loss", "train", 'valid "set"' } do
      assert.is_true(has_text(svg, s), s)
    end
    -- x ticks: 1.0 .. 4.0 by 0.5 (the labels fit side by side at 800 px)
    for _, s in ipairs { "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0" } do
      assert.is_true(has_text(svg, s), s)
    end
    assert.are.equal(2, #find(svg, function(e) return e.attrs.class == "legend-entry" end))
    assert.are.equal(4, #points(group(svg, "series", "train")))
    assert.are.equal(4, #points(group(svg, "series", 'valid "set"')))
    -- few points: markers at each
    assert.are.equal(4, #find(group(svg, "markers", "train"), function(e) return e.name == "circle" end))
  end)

  it("puts the points where the axes say", function()
    local svg = parse_xml(ts.plot.lines {
      width = 600, height = 400, xlim = { 0, 10 }, ylim = { -1, 1 },
      series = { { name = "s", x = { 0, 5, 10, 2.5 }, y = { -1, 0, 1, 0.5 } } },
    })
    assert.are.equal("600", svg.attrs.width)
    local fx, fy, fw, fh = frame(svg)
    local p = points(group(svg, "series", "s"))
    local want = { { fx, fy + fh }, { fx + fw / 2, fy + fh / 2 }, { fx + fw, fy },
      { fx + fw / 4, fy + fh / 4 } }
    for i = 1, 4 do
      assert.is_true(math.abs(p[i][1] - want[i][1]) <= 0.1,
        ("x of point %d: %s vs %s"):format(i, p[i][1], want[i][1]))
      assert.is_true(math.abs(p[i][2] - want[i][2]) <= 0.1,
        ("y of point %d: %s vs %s"):format(i, p[i][2], want[i][2]))
    end
    for _, s in ipairs { "0", "2", "4", "6", "8", "10", "-1.0", "-0.5", "0.0", "0.5", "1.0" } do
      assert.is_true(has_text(svg, s), s)
    end
  end)

  it("draws every point of a long series, a non-finite value breaking the line", function()
    local y, t = {}, {}
    for i = 1, 500 do y[i] = math.sin(i / 50) end
    for i = 1, 50 do t[i] = i end
    t[20] = 0 / 0
    local svg = parse_xml(ts.plot.lines { series = {
      { name = "long", y = y }, { name = "gap", y = t, marker = false },
      { name = "tensor", x = ts.arange(1, 11), y = ts.arange(1, 11) * 2 },
    } })
    assert.are.equal(500, #points(group(svg, "series", "long")))
    local gap = group(svg, "series", "gap")
    assert.are.equal(49, #points(gap))
    assert.are.equal(2, #find(gap, function(e) return e.name == "polyline" end))
    assert.are.equal(10, #points(group(svg, "series", "tensor")))
    assert.are.equal(0, #find(svg, function(e)
      return e.attrs.class == "markers" and e.attrs["data-name"] == "long"
    end))
  end)

  it("a right axis with its own ticks and label; the legend says which series uses it", function()
    local svg = parse_xml(ts.plot.lines {
      ylabel = "loss", y2label = "accuracy (%)", y2lim = { 80, 90 },
      series = { { name = "loss", y = { 1, 0.5, 0.4 } },
        { name = "accuracy", x = { 1, 3 }, y = { 80, 90 }, axis = "right", color = "#00aa00" } },
    })
    assert.is_true(has_text(svg, "accuracy (%)"))
    assert.is_true(has_text(svg, "accuracy (right axis)"))
    for _, s in ipairs { "80", "82", "84", "86", "88", "90" } do assert.is_true(has_text(svg, s), s) end
    local fx, fy, fw, fh = frame(svg)
    local p = points(group(svg, "series", "accuracy"))
    assert.is_true(math.abs(p[1][1] - fx) <= 0.1 and math.abs(p[1][2] - (fy + fh)) <= 0.1)
    assert.is_true(math.abs(p[2][1] - (fx + fw)) <= 0.1 and math.abs(p[2][2] - fy) <= 0.1)
    assert.are.equal("#00aa00", group(svg, "series", "accuracy").attrs.stroke)
  end)

  it("stacks panels on one x axis: aligned frames, x tick labels once, a legend for all", function()
    local svg = parse_xml(ts.plot.lines {
      xlabel = "epoch", xlim = { 0, 10 },
      panels = {
        { ylabel = "loss", ylim = { 0, 1 },
          series = { { name = "loss", x = { 0, 5, 10 }, y = { 1, 0.5, 0 } } } },
        { ylabel = "accuracy (%)", ylim = { 80, 90 },
          series = { { name = "accuracy", x = { 1, 10 }, y = { 80, 90 } } } },
      },
    })
    assert.are.equal("660", svg.attrs.height)
    local frames = find(svg, function(e) return e.name == "rect" and e.attrs.class == "frame" end)
    assert.are.equal(2, #frames)
    local a, b = frames[1].attrs, frames[2].attrs
    assert.are.equal(a.x, b.x)
    assert.are.equal(a.width, b.width)
    assert.are.equal(a.height, b.height)
    assert.is_true(tonumber(b.y) >= tonumber(a.y) + tonumber(a.height) + 20)
    local tens = 0
    for _, t in ipairs(texts(svg)) do if t == "10" then tens = tens + 1 end end
    assert.are.equal(1, tens)
    for _, s in ipairs { "loss", "accuracy", "accuracy (%)", "epoch", "0.0", "1.0", "80", "90" } do
      assert.is_true(has_text(svg, s), s)
    end
    assert.are.equal(2, #find(svg, function(e) return e.attrs.class == "legend-entry" end))
    local p = points(group(svg, "series", "accuracy"))
    local bx, by, bw, bh = tonumber(b.x), tonumber(b.y), tonumber(b.width), tonumber(b.height)
    assert.is_true(math.abs(p[1][1] - (bx + bw / 10)) <= 0.1 and math.abs(p[1][2] - (by + bh)) <= 0.1)
    assert.is_true(math.abs(p[2][1] - (bx + bw)) <= 0.1 and math.abs(p[2][2] - by) <= 0.1)
    local q = points(group(svg, "series", "loss"))
    assert.is_true(math.abs(q[1][2] - tonumber(a.y)) <= 0.1)
    assert.is_true(math.abs(q[3][2] - (tonumber(a.y) + tonumber(a.height))) <= 0.1)
  end)

  it("writes the file when asked and returns the same text", function()
    local path = S.path("p.svg")
    local text = ts.plot.lines { series = { { y = { 1, 2 } } }, file = path }
    assert.are.equal(text, S.slurp(path))
    assert.is_true(has_text(parse_xml(text), "series 1"))
  end)

  it("rejects bad input, naming the function and the key", function()
    local ok = { { name = "a", y = { 1, 2 } } }
    H.fails(function() ts.plot.lines() end, "ts.plot.lines: the options must be a table, got nil")
    H.fails(function() ts.plot.lines { series = ok, titel = "x" } end,
      "ts.plot.lines: unknown option 'titel' in the options (options are file, grid, height, legend, panels,")
    H.fails(function() ts.plot.lines { title = "x" } end, "series must be a non-empty array")
    H.fails(function() ts.plot.lines { series = {} } end, "got an empty table")
    H.fails(function() ts.plot.lines { series = { { name = "a", y = { 1, 2 }, colour = "red" } } } end,
      "ts.plot.lines: unknown option 'colour' in series[1]")
    H.fails(function() ts.plot.lines { series = { { name = "a" } } } end, "series[1] needs y")
    H.fails(function() ts.plot.lines { series = { { y = {} } } } end, "series[1] has no points")
    H.fails(function() ts.plot.lines { series = { { x = { 1, 2, 3 }, y = { 1, 2 } } } } end,
      "series[1]: x has 3 values and y 2")
    H.fails(function() ts.plot.lines { series = { { y = { 1, "2" } } } } end,
      "series[1].y[2] must be a number, got string")
    H.fails(function() ts.plot.lines { series = { { y = ts.ones { 2, 2 } } } } end, "must be a 1-D tensor")
    H.fails(function() ts.plot.lines { series = { { y = ts.constant { 1, 2 } } } } end, "got a graph node")
    H.fails(function() ts.plot.lines { series = { { y = { 1 }, axis = "top" } } } end,
      'series[1].axis must be "left" or "right", got top')
    H.fails(function() ts.plot.lines { series = { { y = { 1 }, color = "red;x" } } } end, "must be a colour")
    H.fails(function() ts.plot.lines { series = ok, width = 50 } end,
      "width must be an integer from 100 to 10000, got 50")
    H.fails(function() ts.plot.lines { series = ok, xlim = { 2, 1 } } end,
      "xlim must be {low, high} with finite low < high")
    H.fails(function() ts.plot.lines { series = ok, y2label = "r" } end,
      'y2label and y2lim need a series with axis = "right"')
    H.fails(function() ts.plot.lines { series = ok, title = 3 } end, "title must be a string, got number")
    H.fails(function() ts.plot.lines { series = ok, height = 100, title = "t", xlabel = "x" } end,
      "leaves no room")
    H.fails(function() ts.plot.lines { series = ok, file = S.path("no/such/dir.svg") } end,
      "ts.plot.lines: cannot write")
    H.fails(function() ts.plot.lines { series = ok, panels = { { series = ok } } } end,
      "ts.plot.lines: give series in each of panels, not beside them")
    H.fails(function() ts.plot.lines { panels = { { series = ok }, { seris = ok } } } end,
      "ts.plot.lines: unknown option 'seris' in panels[2] (options are series, y2label, y2lim, ylabel, ylim)")
    H.fails(function() ts.plot.lines { panels = {} } end, "panels must be an array of 1 to 10")
    H.fails(function() ts.plot.lines { panels = { { ylabel = "x" } } } end,
      "panels[1].series must be a non-empty array")
    H.fails(function() ts.plot.lines { panels = { { series = { { y = { 1, false } } } } } } end,
      "panels[1].series[1].y[2] must be a number, got boolean")
    local err = H.fails(function() ts.plot.lines { series = ok, legend = 1 } end, "legend must be a boolean")
    assert.truthy(err:find("plot_spec.lua", 1, true), err)
  end)
end)

describe("ts.plot.heatmap", function()
  local names = { "T-shirt/top", "Trouser", "Pullover" }

  it("draws one cell per entry with its value, the labels on both axes and a colour bar", function()
    local m = { { 50, 2, 0 }, { 3, 45, 7 }, { 0, 10, 38 } }
    local svg = parse_xml(ts.plot.heatmap { matrix = m, labels = names, title = "confusion",
      xlabel = "predicted", ylabel = "true" })
    local cells = find(svg, function(e) return e.attrs.class == "cells" end)[1]
    local rects = find(cells, function(e) return e.name == "rect" end)
    assert.are.equal(9, #rects)
    local shown = {}
    for _, t in ipairs(find(cells, function(e) return e.name == "text" end)) do shown[#shown + 1] = t.text end
    assert.are.same({ "50", "2", "0", "3", "45", "7", "0", "10", "38" }, shown)
    -- the largest value is the darkest cell, zero the lightest
    assert.are.equal("#08306b", rects[1].attrs.fill)
    assert.are.equal("#f7fbff", rects[3].attrs.fill)
    -- cells in row-major order on a square grid
    local x1, y1 = tonumber(rects[1].attrs.x), tonumber(rects[1].attrs.y)
    local size = tonumber(rects[1].attrs.width)
    assert.are.equal(size, tonumber(rects[1].attrs.height))
    assert.is_true(math.abs(tonumber(rects[6].attrs.x) - (x1 + 2 * size)) < 0.11)
    assert.is_true(math.abs(tonumber(rects[6].attrs.y) - (y1 + size)) < 0.11)
    local labels = find(svg, function(e) return e.attrs.class == "labels" end)[1]
    local lt = {}
    for _, t in ipairs(find(labels, function(e) return e.name == "text" end)) do lt[#lt + 1] = t.text end
    assert.are.same({ names[1], names[2], names[3], names[1], names[2], names[3] }, lt)
    for _, s in ipairs { "confusion", "predicted", "true" } do assert.is_true(has_text(svg, s), s) end
    local bar = find(svg, function(e) return e.attrs.class == "colorbar" end)[1]
    local bar_labels = {}
    for _, t in ipairs(find(bar, function(e) return e.name == "text" end)) do
      bar_labels[#bar_labels + 1] = t.text
    end
    assert.are.same({ "0", "10", "20", "30", "40", "50" }, bar_labels)
  end)

  it("takes a 2-D tensor, row and column labels, floats, scales", function()
    local m = ts.tensor { { 0.5, 0.25 }, { 0.125, 1 }, { 0, 0.75 } }
    local svg = parse_xml(ts.plot.heatmap { matrix = m, row_labels = { "a", "b", "c" },
      col_labels = { "x", "y" }, scale = "sqrt", values = true, colorbar = false })
    local cells = find(svg, function(e) return e.attrs.class == "cells" end)[1]
    local shown = {}
    for _, t in ipairs(find(cells, function(e) return e.name == "text" end)) do shown[#shown + 1] = t.text end
    assert.are.same({ "0.5", "0.25", "0.125", "1", "0", "0.75" }, shown)
    assert.are.equal(0, #find(svg, function(e) return e.attrs.class == "colorbar" end))
    -- sqrt scale: 0.25 is halfway in colour (the scale's middle colour)
    local rects = find(cells, function(e) return e.name == "rect" end)
    assert.are.equal("#6baed6", rects[2].attrs.fill)
  end)

  it("rejects bad input, naming the function and the key", function()
    local m = { { 1, 2 }, { 3, 4 } }
    H.fails(function() ts.plot.heatmap { matrix = m, lables = { "a", "b" } } end,
      "ts.plot.heatmap: unknown option 'lables' in the options (options are col_labels, colorbar, file,")
    H.fails(function() ts.plot.heatmap {} end, "matrix must be a 2-D tensor or an array of rows, got nil")
    H.fails(function() ts.plot.heatmap { matrix = {} } end, "matrix is empty")
    H.fails(function() ts.plot.heatmap { matrix = { { 1, 2 }, { 3 } } } end,
      "matrix rows must have the same non-zero length: row 1 has 2, row 2 has 1")
    H.fails(function() ts.plot.heatmap { matrix = { { 1, "x" } } } end,
      "matrix[1][2] must be a number, got string")
    H.fails(function() ts.plot.heatmap { matrix = ts.ones { 4 } } end,
      "matrix must be 2-D, got a tensor of 1 dimensions")
    H.fails(function() ts.plot.heatmap { matrix = m, labels = { "a" } } end,
      "labels has 1 entries for 2 rows")
    H.fails(function() ts.plot.heatmap { matrix = { { 1, 2 } }, labels = { "a" } } end,
      "labels names both axes, but the matrix is 1x2")
    H.fails(function() ts.plot.heatmap { matrix = { { -1, 2 } }, scale = "log" } end,
      'scale "log" needs values >= 0 (the smallest is -1)')
    H.fails(function() ts.plot.heatmap { matrix = m, scale = "cubic" } end,
      'scale must be "linear", "sqrt" or "log"')
    H.fails(function() ts.plot.heatmap { matrix = m, labels = { "a", "b" }, row_labels = { "a", "b" } } end,
      "give labels (both axes) or row_labels/col_labels, not both")
  end)
end)
