-- The host contract (issue 19, tensorslow.h): what a custom op's compute
-- raises reaches the caller of sess:run (and so a host's lua_pcall) whole: a
-- string message of any length under "op 'name' failed: ", any other error
-- object unchanged (the same table, number, nil, ...). tests/contract.c checks
-- the same through a C host's lua_pcall, with zero-copy tensors and views.
local ts = require "tensorslow"
local H = require "helpers"

-- A session of a fresh graph running a custom op whose compute raises err
-- (with error level 0 when plain is set: no position added).
local function failing(err, plain)
  local g = ts.Graph()
  local x = ts.placeholder { dtype = "float64", shape = { 2 }, graph = g }
  local op = ts.Operation { type = "raiser", name = "raiser", inputs = { x }, shape = { 2 },
    compute = function(a)
      if plain then error(err, 0) end
      error(err)
      return a
    end }
  return ts.Session(g), op, x
end

-- sess:run's status and error object, unconverted.
local function run(s, op, x)
  return pcall(s.run, s, op, { [x] = { 1, 2 } })
end

describe("a custom op's error", function()
  -- 5000 bytes, each 10-byte block numbered: a cut or a repeat would show
  local parts = {}
  for i = 1, 500 do parts[i] = ("%09d|"):format(i) end
  local long = table.concat(parts)
  assert(#long == 5000)

  it("keeps a 5000-byte message whole", function()
    local s, op, x = failing(long, true)
    local ok, err = run(s, op, x)
    assert.is_false(ok)
    assert.equal("string", type(err))
    assert.equal("op 'raiser' failed: " .. long, err)
    assert.equal(#"op 'raiser' failed: " + 5000, #err)
  end)

  it("keeps the position error() adds in front of the whole message", function()
    local s, op, x = failing(long)
    local ok, err = run(s, op, x)
    assert.is_false(ok)
    local where = err:match("^op 'raiser' failed: (.-:%d+): ")
    assert.is_truthy(where and where:find("host_contract_spec.lua", 1, true), err:sub(1, 80))
    assert.equal(long, err:sub(-5000))
  end)

  it("passes a table error object through as the same table", function()
    local obj = setmetatable({ code = 42 }, { __tostring = function() return "custom error" end })
    local s, op, x = failing(obj)
    local ok, err = run(s, op, x)
    assert.is_false(ok)
    assert.is_true(rawequal(obj, err))
    assert.equal(42, err.code)
  end)

  it("passes other non-string error objects through unchanged", function()
    local t = ts.tensor { 1, 2, 3 }
    local co = coroutine.create(function() end)
    for _, obj in ipairs { 7, 2.5, true, t, co, print } do
      local s, op, x = failing(obj)
      local ok, err = run(s, op, x)
      assert.is_false(ok)
      assert.is_true(rawequal(obj, err), tostring(obj))
    end
    assert.equal("integer", math.type(select(2, run(failing(7)))))
    -- nil and false too: no message is made up for them
    local s, op, x = failing(nil)
    local ok, err = run(s, op, x)
    assert.is_false(ok)
    assert.is_nil(err)
    ok, err = run(failing(false))
    assert.is_false(ok)
    assert.equal(false, err)
  end)

  it("passes through nested runs: the inner op's table, and both names on a string", function()
    local obj = {}
    local inner_s, inner_op, inner_x = failing(obj)
    local g = ts.Graph()
    local x = ts.placeholder { dtype = "float64", shape = { 2 }, graph = g }
    local outer = ts.Operation { type = "outer", name = "outer", inputs = { x }, shape = { 2 },
      compute = function(a)
        inner_s:run(inner_op, { [inner_x] = a })
        return a
      end }
    local s = ts.Session(g)
    local ok, err = pcall(s.run, s, outer, { [x] = { 1, 2 } })
    assert.is_false(ok)
    assert.is_true(rawequal(obj, err))

    local str_s, str_op, str_x = failing("deep", true)
    local outer2 = ts.Operation { type = "outer2", name = "outer2", inputs = { x }, shape = { 2 },
      compute = function(a)
        str_s:run(str_op, { [str_x] = a })
        return a
      end }
    ok, err = pcall(s.run, s, outer2, { [x] = { 1, 2 } })
    assert.is_false(ok)
    assert.equal("op 'outer2' failed: op 'raiser' failed: deep", err)
  end)

  it("leaves the session usable: the same plan runs again and gives values", function()
    local mode = {}
    local g = ts.Graph()
    local x = ts.placeholder { dtype = "float64", shape = { 2 }, graph = g }
    local op = ts.Operation { type = "flaky", name = "flaky", inputs = { x }, shape = { 2 },
      compute = function(a)
        if mode.err ~= nil then error(mode.err, 0) end
        return a * 2
      end }
    local s = ts.Session(g)
    for _, err in ipairs { {}, long, 3 } do
      mode.err = err
      local ok, got = pcall(s.run, s, op, { [x] = { 1, 2 } })
      assert.is_false(ok)
      if type(err) == "string" then assert.equal("op 'flaky' failed: " .. err, got)
      else assert.is_true(rawequal(err, got)) end
      mode.err = nil
      H.tensor(s:run(op, { [x] = { 1, 2 } }), { 2, 4 }, "float64")
      assert.equal(1, s:stats().plans)
    end
  end)

  it("still names the op for errors tensorslow finds in the result", function()
    local g = ts.Graph()
    local x = ts.placeholder { dtype = "float64", shape = { 2 }, graph = g }
    local op = ts.Operation { type = "liar", name = "liar", inputs = { x }, shape = { 2 },
      compute = function() return nil end }
    local s = ts.Session(g)
    H.fails(function() s:run(op, { [x] = { 1, 2 } }) end,
      "op 'liar' failed: compute returned nil, expected a tensor")
  end)
end)
