-- ts.summary.writer(dir): training summaries as JSON lines, one file per run
-- (dir/run-<date>-<time>-<pid>.jsonl), one record per line:
--   {"wall_time":1764518958.254,"step":12,"tag":"loss","type":"scalar","value":0.4375}
--   {"wall_time":...,"step":3,"tag":"w","type":"histogram","count":6,"min":0,"max":5,
--    "sum":15,"nan":0,"inf":0,"-inf":0,"edges":[0,2.5,5],"counts":[3,3]}
-- Plain Lua, no JSON library (the C module links cJSON but does not expose it).
-- JSON has no NaN or infinity: a non-finite scalar is written as "value":null
-- with "nonfinite":"nan"|"inf"|"-inf"; a histogram's buckets hold its finite
-- values and counts the others in "nan", "inf" and "-inf".
-- ts.summary itself stays callable: ts.summary(graph) is viz.lua's table of variables.
return function(ts, I)
  local graph_summary = assert(ts.summary, "viz.lua must load before summary.lua")
  local is_tensor, is_node = I.is_tensor, I.is_node

  local function check_opts(fname, opts, known, level)
    if opts == nil then return {} end
    if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
      error(("%s: options must be a table, got %s"):format(fname, type(opts)), level + 1)
    end
    for k in pairs(opts) do
      if not known[k] then
        local names = {}
        for n in pairs(known) do names[#names + 1] = n end
        table.sort(names)
        error(("%s: unknown option %s (options are %s)"):format(fname,
          type(k) == "string" and "'" .. k .. "'" or tostring(k), table.concat(names, ", ")),
          level + 1)
      end
    end
    return opts
  end

  ---------------------------------------------------------------- JSON text

  local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
  local function jstring(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
      return escapes[c] or ("\\u%04x"):format(c:byte())
    end) .. '"'
  end

  -- Finite numbers only (callers handle the others): integers as integers,
  -- floats in the shortest of %.15g/%.16g/%.17g that reads back exactly.
  local function jnumber(v)
    if math.type(v) == "integer" then return ("%d"):format(v) end
    for _, f in ipairs { "%.15g", "%.16g", "%.17g" } do
      local s = f:format(v)
      if tonumber(s) == v then return s end
    end
    return ("%.17g"):format(v)
  end

  local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end
  local function nonfinite_name(v)
    if v ~= v then return "nan" end
    return v > 0 and "inf" or "-inf"
  end

  local function check_tag(fname, tag)
    if type(tag) ~= "string" or tag == "" then
      error(("%s: tag must be a non-empty string, got %s"):format(fname,
        type(tag) == "string" and "an empty string" or type(tag)), 3)
    end
    if not utf8.len(tag) then error(("%s: tag %q is not valid UTF-8"):format(fname, tag), 3) end
  end

  local function check_step(fname, step)
    local s = math.tointeger(step)
    if not s or s < 0 then
      error(("%s: step must be a non-negative integer, got %s"):format(fname,
        type(step) == "number" and tostring(step) or type(step)), 3)
    end
    return s
  end

  -- A number from a number or a one-element tensor.
  local function scalar_value(fname, v)
    if type(v) == "number" then return v end
    if is_tensor(v) then
      if v:numel() ~= 1 then
        error(("%s: value must be a number or a one-element tensor, got a tensor of %d elements")
          :format(fname, v:numel()), 3)
      end
      return v:item()
    end
    if is_node(v) then
      error(fname .. ": value is a graph node: pass its value (sess:run(node))", 3)
    end
    error(("%s: value must be a number or a one-element tensor, got %s"):format(fname, type(v)), 3)
  end

  -- A flat array of numbers from a tensor (any shape) or an array of numbers.
  local function values_of(fname, v)
    if is_tensor(v) then
      if v:numel() == 0 then return {} end
      return v:reshape { -1 }:totable()
    end
    if is_node(v) then
      error(fname .. ": values is a graph node: pass its value (sess:run(node))", 3)
    end
    if type(v) ~= "table" then
      error(("%s: values must be a tensor or an array of numbers, got %s"):format(fname, type(v)), 3)
    end
    local n = rawlen(v)
    for i = 1, n do
      local x = rawget(v, i)
      if type(x) ~= "number" then
        error(("%s: values[%d] must be a number, got %s"):format(fname, i, type(x)), 3)
      end
    end
    return v, n
  end

  --- The histogram fields of values: finite values in `bins` equal buckets from
  -- min to max (the last bucket includes max; all equal values: one bucket
  -- [v - 0.5, v + 0.5]), non-finite values counted apart.
  local function histogram(values, n, bins)
    n = n or #values
    local lo, hi, sum, count = math.huge, -math.huge, 0.0, 0
    local nan, inf, ninf = 0, 0, 0
    for i = 1, n do
      local x = values[i]
      if x ~= x then nan = nan + 1
      elseif x == math.huge then inf = inf + 1
      elseif x == -math.huge then ninf = ninf + 1
      else
        count, sum = count + 1, sum + x
        if x < lo then lo = x end
        if x > hi then hi = x end
      end
    end
    local edges, counts = {}, {}
    if count > 0 then
      -- halves: hi - lo may overflow, hi / 2 - lo / 2 does not
      local lo2, span2 = lo / 2, hi / 2 - lo / 2
      if span2 == 0 then
        bins, edges[1], edges[2] = 1, lo - 0.5, hi + 0.5
      else
        local span = hi - lo
        for b = 0, bins do
          edges[b + 1] = span < math.huge and lo + span * b / bins or lo * (1 - b / bins) + hi * (b / bins)
        end
        edges[1], edges[bins + 1] = lo, hi
      end
      for b = 1, bins do counts[b] = 0 end
      for i = 1, n do
        local x = values[i]
        if finite(x) then
          local b = span2 == 0 and 1 or math.floor((x / 2 - lo2) / span2 * bins) + 1
          if b > bins then b = bins elseif b < 1 then b = 1 end
          -- rounding near an edge: move to the bucket whose range holds x
          while b > 1 and x < edges[b] do b = b - 1 end
          while b < bins and x >= edges[b + 1] do b = b + 1 end
          counts[b] = counts[b] + 1
        end
      end
    end
    return { count = count, min = count > 0 and lo or nil, max = count > 0 and hi or nil,
      sum = sum, nan = nan, inf = inf, ninf = ninf, edges = edges, counts = counts }
  end

  local function jarray(t)
    local parts = {}
    for i = 1, #t do parts[i] = jnumber(t[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end

  ---------------------------------------------------------------- the writer

  local Writer = {}
  Writer.__index = Writer
  Writer.__name = "tensorslow.SummaryWriter"

  local function pid()
    local f = io.open("/proc/self/stat", "r")
    if f then
      local id = (f:read("l") or ""):match("^(%d+)")
      f:close()
      if id then return id end
    end
    return tostring(math.random(100000, 999999))
  end

  local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end

  local function live(self, fname)
    if getmetatable(self) ~= Writer then
      error(("%s: call it as a method (writer:%s(...))"):format(fname, fname:match("[%w_]+$")), 3)
    end
    if not self.file then error(fname .. ": the writer is closed", 3) end
    return self.file
  end

  local function record(self, tag, step, body)
    local wall = self.start + (ts.clock() - self.clock0)
    local ok, err = self.file:write(('{"wall_time":%.3f,"step":%d,"tag":%s,%s}\n')
      :format(wall, step, jstring(tag), body))
    if not ok then error("summary writer: cannot write " .. self.path .. ": " .. tostring(err), 3) end
  end

  --- writer:scalar(tag, value, step): value a number or a one-element tensor.
  function Writer.scalar(self, tag, value, step)
    live(self, "scalar")
    check_tag("scalar", tag)
    local v = scalar_value("scalar", value)
    step = check_step("scalar", step)
    local body
    if finite(v) then
      body = '"type":"scalar","value":' .. jnumber(v)
    else
      body = '"type":"scalar","value":null,"nonfinite":"' .. nonfinite_name(v) .. '"'
    end
    record(self, tag, step, body)
    return self
  end

  local hist_opts = { bins = true }
  --- writer:histogram(tag, values, step [, {bins = 30}]): values a tensor or an array of numbers.
  function Writer.histogram(self, tag, values, step, opts)
    live(self, "histogram")
    check_tag("histogram", tag)
    local vals, n = values_of("histogram", values)
    step = check_step("histogram", step)
    opts = check_opts("histogram", opts, hist_opts, 2)
    local bins = opts.bins == nil and 30 or math.tointeger(opts.bins)
    if not bins or bins < 1 or bins > 100000 then
      error(("histogram: bins must be an integer from 1 to 100000, got %s"):format(tostring(opts.bins)), 2)
    end
    local h = histogram(vals, n, bins)
    local body = ('"type":"histogram","count":%d,"min":%s,"max":%s,"sum":%s,"nan":%d,"inf":%d,'
      .. '"-inf":%d,"edges":%s,"counts":%s'):format(h.count,
      h.min and jnumber(h.min) or "null", h.max and jnumber(h.max) or "null",
      finite(h.sum) and jnumber(h.sum) or "null", h.nan, h.inf, h.ninf,
      jarray(h.edges), jarray(h.counts))
    record(self, tag, step, body)
    return self
  end

  --- writer:flush(): pushes buffered records to the file (lines are written as they come;
  -- this is for a file system that buffers further).
  function Writer.flush(self)
    live(self, "flush"):flush()
    return self
  end

  --- writer:close(): flushes and closes the file; safe to call twice (also __close and __gc).
  function Writer.close(self)
    if getmetatable(self) ~= Writer then error("close: call it as a method (writer:close())", 2) end
    local f = self.file
    if f then
      self.file = nil
      f:close()
    end
  end
  Writer.__close = Writer.close
  Writer.__gc = Writer.close

  function Writer.__tostring(self)
    return ("tensorslow.SummaryWriter(%s%s)"):format(self.path, self.file and "" or ", closed")
  end

  local writer_opts = { name = true }
  --- ts.summary.writer(dir [, {name = "run-..."}]): a writer appending to a new file
  -- dir/<name>.jsonl (default name run-<YYYYmmdd-HHMMSS>-<pid>, a -2, -3... suffix if
  -- taken); dir is created when missing.
  local function writer(dir, opts)
    if type(dir) ~= "string" or dir == "" then
      error(("ts.summary.writer: dir must be a non-empty string, got %s"):format(
        type(dir) == "string" and "an empty string" or type(dir)), 2)
    end
    if dir:find("\0", 1, true) then error("ts.summary.writer: dir contains a NUL byte", 2) end
    opts = check_opts("ts.summary.writer", opts, writer_opts, 2)
    local base = opts.name
    if base ~= nil and (type(base) ~= "string" or base == "" or base:find("[/%z]")) then
      error("ts.summary.writer: name must be a file name (a non-empty string without '/')", 2)
    end
    base = base or ("run-%s-%s"):format(os.date("%Y%m%d-%H%M%S"), pid())
    local path = dir .. "/" .. base .. ".jsonl"
    local k = 1
    while exists(path) do
      k = k + 1
      path = ("%s/%s-%d.jsonl"):format(dir, base, k)
    end
    local f, err = io.open(path, "w")
    if not f and not exists(dir) then
      os.execute("mkdir -p -- " .. shell_quote(dir) .. " 2>/dev/null")
      f, err = io.open(path, "w")
    end
    if not f then error("ts.summary.writer: cannot create " .. tostring(err), 2) end
    f:setvbuf("line")
    return setmetatable({ file = f, path = path, dir = dir, start = os.time(),
      clock0 = ts.clock() }, Writer)
  end

  ts.summary = setmetatable({ writer = writer }, {
    -- ts.summary(graph): the variables' table (viz.lua); a tail call keeps error levels.
    __call = function(_, ...) return graph_summary(...) end,
  })
end
