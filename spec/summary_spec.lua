-- ts.summary.writer: JSON-lines summaries. Every file is read back by a strict
-- JSON parser (lua-cjson when installed, else the small one below) and by
-- Python's json module with NaN/Infinity refused.
local ts = require "tensorslow"
local H = require "helpers"

local S = H.scratch()
local has_cjson, cjson = pcall(require, "cjson")

-- A strict JSON parser (RFC 8259): objects, arrays, strings with every escape,
-- numbers, true/false; null becomes the NULL sentinel.
local NULL = setmetatable({}, { __tostring = function() return "null" end })
local function json_decode(s)
  local pos = 1
  local function fail(msg) error(("JSON at %d: %s in %s"):format(pos, msg, s:sub(1, 200)), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    pos = pos + 1
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then
        pos = pos + 1
        return table.concat(out)
      end
      if c:byte() < 32 then fail("raw control character") end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
          r = "\r", t = "\t" }
        if simple[e] then
          out[#out + 1] = simple[e]
          pos = pos + 2
        elseif e == "u" then
          local hex = s:sub(pos + 2, pos + 5)
          if not hex:match("^%x%x%x%x$") then fail("bad \\u escape") end
          out[#out + 1] = utf8.char(tonumber(hex, 16))
          pos = pos + 6
        else
          fail("bad escape")
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then
        pos = pos + 1
        return obj
      end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        if obj[k] ~= nil then fail("duplicate key " .. k) end
        ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then
        pos = pos + 1
        return arr
      end
      while true do
        arr[#arr + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    end
    for word, v in pairs { ["true"] = true, ["false"] = false, null = NULL } do
      if s:sub(pos, pos + #word - 1) == word then
        pos = pos + #word
        return v
      end
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or not num:match("^-?0[%.eE]") and num:match("^-?0%d") or num:match("%.$")
      or num:match("%.[eE]") or num:match("[eE][-+]?$") then
      fail("bad value")
    end
    pos = pos + #num
    return math.tointeger(tonumber(num)) or tonumber(num)
  end
  local v = value()
  ws()
  if pos <= #s then fail("trailing text") end
  return v
end

local function is_null(v) return v == NULL or (has_cjson and v == cjson.null) end

-- The records of a file, each line parsed; with `python`, Python re-reads the file strictly.
local function records(path, python)
  local out = {}
  for line in io.lines(path) do
    out[#out + 1] = json_decode(line)
    if has_cjson then
      local c = cjson.decode(line)
      assert.are.equal(out[#out].tag, c.tag)
      assert.are.equal(out[#out].step, c.step)
    end
  end
  if not python then return out end
  local p = io.popen(H.CLEAN .. "python3 -c 'import json, sys\n"
    .. "def bad(c): raise ValueError(c)\n"
    .. "n = 0\n"
    .. "for line in open(sys.argv[1], encoding=\"utf-8\"):\n"
    .. "    json.loads(line, parse_constant=bad); n += 1\n"
    .. "print(n)' '" .. path .. "' 2>&1")
  local got = p:read("a")
  p:close()
  assert.are.equal(tostring(#out), got:match("^%s*(.-)%s*$"), "python3 could not read " .. path)
  return out
end

local function only_file(dir)
  local p = assert(io.popen(H.CLEAN .. "ls -A '" .. dir .. "'"))
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  assert.are.equal(1, #names, "files: " .. table.concat(names, " "))
  return dir .. "/" .. names[1]
end

describe("ts.summary.writer", function()
  before_each(S.setup)
  after_each(S.teardown)

  it("creates one file per run, dir/run-<date>-<time>-<pid>.jsonl, and the directory", function()
    local dir = S.path("logs/deeper")
    local w <close> = ts.summary.writer(dir)
    local pattern = "^" .. dir:gsub("%p", "%%%0") .. "/run%-%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d%-%d+%.jsonl$"
    assert.truthy(w.path:match(pattern),
      w.path)
    local pid = io.open("/proc/self/stat"):read("l"):match("^%d+")
    assert.are.equal(pid, w.path:match("%-(%d+)%.jsonl$"))
    w:scalar("a", 1, 0)
    w:close()
    assert.are.equal(w.path, only_file(dir))
    -- a second writer in the same second gets its own file
    local w2 <close> = ts.summary.writer(dir, { name = "run" })
    local w3 <close> = ts.summary.writer(dir, { name = "run" })
    assert.are.equal(dir .. "/run.jsonl", w2.path)
    assert.are.equal(dir .. "/run-2.jsonl", w3.path)
  end)

  it("writes scalars: numbers and one-element tensors, exactly", function()
    local w <close> = ts.summary.writer(S.dir)
    local f32 = ts.tensor({ 0.1 }, "float32")
    local values = { 0.1, 1 / 3, -2.5e-300, 1e300, 7, -0.0, f32, ts.tensor(2 ^ 60) }
    for i, v in ipairs(values) do w:scalar("loss", v, i * 10) end
    assert.are.equal(w, w:scalar("int", math.maxinteger, 0)) -- chains
    w:close()
    local r = records(w.path, true)
    assert.are.equal(#values + 1, #r)
    for i, v in ipairs(values) do
      assert.are.equal("loss", r[i].tag)
      assert.are.equal("scalar", r[i].type)
      assert.are.equal(i * 10, r[i].step)
      local want = ts.is_tensor(v) and v:item() or v
      assert.are.equal(want, r[i].value, "record " .. i)
    end
    assert.are.equal(0.10000000149011612, r[7].value) -- float32's 0.1, widened
    assert.are.equal(math.maxinteger, r[#r].value)
    local now = os.time()
    for _, rec in ipairs(r) do
      assert.is_true(math.abs(rec.wall_time - now) < 5, tostring(rec.wall_time))
    end
    for i = 2, #r do assert.is_true(r[i].wall_time >= r[i - 1].wall_time) end
  end)

  it("writes NaN and infinities as null with a 'nonfinite' field", function()
    local w <close> = ts.summary.writer(S.dir)
    w:scalar("x", 0 / 0, 1)
    w:scalar("x", math.huge, 2)
    w:scalar("x", -math.huge, 3)
    w:scalar("x", ts.tensor({ 0 / 0 }, "float32"), 4)
    w:close()
    local r = records(w.path, true)
    local want = { "nan", "inf", "-inf", "nan" }
    for i = 1, 4 do
      assert.is_true(is_null(r[i].value))
      assert.are.equal(want[i], r[i].nonfinite)
    end
  end)

  it("escapes tags: quotes, backslashes, control characters, UTF-8", function()
    local tags = { 'a "quoted" tag', "back\\slash", "line\nbreak\ttab", "bell\7 and \1",
      "layer/1/kernel", "température ✓" }
    local w <close> = ts.summary.writer(S.dir)
    for i, t in ipairs(tags) do w:scalar(t, i, i) end
    w:close()
    local r = records(w.path, true)
    for i, t in ipairs(tags) do assert.are.equal(t, r[i].tag) end
    for line in io.lines(w.path) do assert.is_nil(line:find("[%z\1-\31]")) end
  end)

  it("writes histograms: bucket edges and counts that sum to the number of values", function()
    ts.seed(7)
    local t = ts.randn { 40, 25 }
    local vals = t:reshape { -1 }:totable()
    local w <close> = ts.summary.writer(S.dir)
    w:histogram("weights", t, 5)
    w:histogram("few", vals, 6, { bins = 7 })
    w:close()
    local r = records(w.path, true)
    for k, bins in ipairs { 30, 7 } do
      local h = r[k]
      assert.are.equal("histogram", h.type)
      assert.are.equal(1000, h.count)
      assert.are.equal(bins, #h.counts)
      assert.are.equal(bins + 1, #h.edges)
      local lo, hi, sum = math.huge, -math.huge, 0
      for _, v in ipairs(vals) do lo, hi, sum = math.min(lo, v), math.max(hi, v), sum + v end
      assert.are.equal(lo, h.min)
      assert.are.equal(hi, h.max)
      H.close(sum, h.sum, 1e-12)
      assert.are.equal(lo, h.edges[1])
      assert.are.equal(hi, h.edges[bins + 1])
      local total = 0
      for i = 1, bins do
        total = total + h.counts[i]
        assert.is_true(h.edges[i] < h.edges[i + 1])
      end
      assert.are.equal(1000, total)
      -- each value in the bucket [edge i, edge i+1) (the last one closed)
      local mine = {}
      for i = 1, bins do mine[i] = 0 end
      for _, v in ipairs(vals) do
        for i = 1, bins do
          if v >= h.edges[i] and (v < h.edges[i + 1] or i == bins) then
            mine[i] = mine[i] + 1
            break
          end
        end
      end
      assert.are.same(mine, h.counts)
      assert.are.equal(0, h.nan)
    end
  end)

  it("histograms: exact buckets, equal values, integers, nothing, non-finite values", function()
    local w <close> = ts.summary.writer(S.dir)
    w:histogram("h", { 0, 1, 2, 3, 4, 4 }, 1, { bins = 4 })
    w:histogram("same", { 2, 2, 2 }, 2)
    w:histogram("ints", ts.tensor({ { 1, 2 }, { 3, 10 } }, "int64"), 3, { bins = 3 })
    w:histogram("none", {}, 4)
    w:histogram("odd", { 1, 0 / 0, math.huge, -math.huge, math.huge, 3 }, 5, { bins = 2 })
    w:close()
    local r = records(w.path, true)
    assert.are.same({ 0, 1, 2, 3, 4 }, r[1].edges)
    assert.are.same({ 1, 1, 1, 3 }, r[1].counts)
    assert.are.same({ 1.5, 2.5 }, r[2].edges)
    assert.are.same({ 3 }, r[2].counts)
    assert.are.equal(6, r[2].sum)
    assert.are.same({ 1, 4, 7, 10 }, r[3].edges)
    assert.are.same({ 3, 0, 1 }, r[3].counts)
    assert.are.equal(0, r[4].count)
    assert.is_true(is_null(r[4].min) and is_null(r[4].max))
    assert.are.same({}, r[4].counts)
    assert.are.equal(2, r[5].count)
    assert.are.same({ 1, 1 }, r[5].counts)
    assert.are.equal(1, r[5].nan)
    assert.are.equal(2, r[5].inf)
    assert.are.equal(1, r[5]["-inf"])
  end)

  it("flush makes the records readable while the writer is open", function()
    local w <close> = ts.summary.writer(S.dir)
    w:scalar("a", 1.5, 1):flush()
    assert.are.equal(1.5, records(w.path)[1].value)
  end)

  it("close: idempotent, by <close>, and a closed writer refuses records", function()
    local path
    do
      local w <close> = ts.summary.writer(S.dir)
      path = w.path
      w:scalar("a", 1, 1)
      H.fails(function() w.scalar(nil, "a", 1, 1) end, "scalar: call it as a method (writer:scalar(...))")
    end
    assert.are.equal(1, #records(path))
    local w = ts.summary.writer(S.dir)
    w:close()
    w:close()
    H.fails(function() w:scalar("a", 1, 1) end, "scalar: the writer is closed")
    H.fails(function() w:histogram("a", { 1 }, 1) end, "histogram: the writer is closed")
    H.fails(function() w:flush() end, "flush: the writer is closed")
    assert.truthy(tostring(w):find("closed", 1, true))
  end)

  it("rejects bad arguments, naming the function and the value", function()
    H.fails(function() ts.summary.writer() end, "ts.summary.writer: dir must be a non-empty string, got nil")
    H.fails(function() ts.summary.writer("") end, "dir must be a non-empty string, got an empty string")
    H.fails(function() ts.summary.writer(S.dir, { nmae = "x" }) end,
      "ts.summary.writer: unknown option 'nmae' (options are name)")
    H.fails(function() ts.summary.writer(S.dir, { name = "a/b" }) end, "name must be a file name")
    H.fails(function() ts.summary.writer("/proc/no/such/place") end, "ts.summary.writer: cannot create")
    local w <close> = ts.summary.writer(S.dir)
    H.fails(function() w:scalar(nil, 1, 1) end, "scalar: tag must be a non-empty string, got nil")
    H.fails(function() w:scalar("", 1, 1) end, "scalar: tag must be a non-empty string, got an empty string")
    H.fails(function() w:scalar("t\255", 1, 1) end, "is not valid UTF-8")
    H.fails(function() w:scalar("a", "1", 1) end,
      "scalar: value must be a number or a one-element tensor, got string")
    H.fails(function() w:scalar("a", ts.ones { 2 }, 1) end, "got a tensor of 2 elements")
    H.fails(function() w:scalar("a", ts.constant(1), 1) end,
      "value is a graph node: pass its value (sess:run(node))")
    H.fails(function() w:scalar("a", 1) end, "scalar: step must be a non-negative integer, got nil")
    H.fails(function() w:scalar("a", 1, 1.5) end, "step must be a non-negative integer, got 1.5")
    H.fails(function() w:scalar("a", 1, -1) end, "step must be a non-negative integer, got -1")
    H.fails(function() w:histogram("h", { 1, "x" }, 1) end,
      "histogram: values[2] must be a number, got string")
    H.fails(function() w:histogram("h", 3, 1) end,
      "values must be a tensor or an array of numbers, got number")
    H.fails(function() w:histogram("h", { 1 }, 1, { bin = 3 }) end,
      "histogram: unknown option 'bin' (options are bins)")
    H.fails(function() w:histogram("h", { 1 }, 1, { bins = 0 }) end,
      "bins must be an integer from 1 to 100000")
    -- the error points at the caller's line
    local err = H.fails(function() w:scalar("a", 1, -1) end, "step")
    assert.truthy(err:find("summary_spec.lua", 1, true), err)
    w:close()
    assert.are.equal(0, #records(w.path))
  end)

  it("ts.summary(graph) still gives the table of variables", function()
    local g = ts.Graph()
    ts.Variable(ts.zeros { 3, 4 }, { name = "w", graph = g })
    local text, total = ts.summary(g)
    assert.are.equal(12, total)
    assert.truthy(text:find("w", 1, true))
  end)
end)
