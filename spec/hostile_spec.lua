-- Hostile values: every public function called with wrong types, huge and
-- negative integers, NaN/inf and tables whose metatables lie must return or
-- raise a clean Lua string error (never crash, never hang); the hand-written
-- core checks that the message names the function and/or the value.
local ts = require "tensorslow"
local H = require "helpers"
-- the C module: its ops with raw attributes, its metatables (internals, as a C host sees them)
local core = require "tensorslow.core"

local MAXI, MINI = math.maxinteger, math.mininteger
local gc = core.Tensor_mt.__gc -- what a C host (or debug.getmetatable) can reach

-- Runs f; it must fail with a string containing every text in texts.
local function fails_with(f, texts)
  local ok, err = pcall(f)
  assert(not ok, "expected an error containing: " .. table.concat(texts, " and "))
  assert(type(err) == "string", "error is not a string: " .. tostring(err))
  for _, text in ipairs(texts) do
    assert(err:find(text, 1, true), ("error %q does not contain %q"):format(err, text))
  end
  return err
end

local function lying_len(n, contents)
  return setmetatable(contents or {}, { __len = function() return n end })
end
local function junk_index(contents)
  return setmetatable(contents or {}, { __index = function() return 7 end,
    __len = function() return 3 end })
end

------------------------------------------------------------ 1. lying values

describe("Lua values that lie", function()
  it("a shape whose __len is negative is read raw (rank 0), never rank -4", function()
    local t = ts.zeros(lying_len(-4))
    assert.equal(0, t:dim())
    assert.equal(1, t:numel())
    assert.equal(2, ts.ones(lying_len(-4, { 2, 3 })):dim())
    assert.equal(6, ts.ones(lying_len(2 ^ 62, { 2, 3 })):numel())
  end)

  it("__index and __len are never consulted for shapes, index lists, axes or values", function()
    assert.equal(0, ts.zeros(junk_index()):dim())
    assert.same({ 2 }, ts.zeros(junk_index({ 2 })).shape)
    -- nested values
    H.tensor(ts.tensor(lying_len(5, { 1, 2 })), { 1, 2 })
    H.tensor(ts.tensor({ lying_len(-1, { 1, 2 }), { 3, 4 } }), { { 1, 2 }, { 3, 4 } })
    assert.same({ 0 }, ts.tensor(junk_index()).shape)
    -- reshape, axes, attribute lists
    assert.same({ 6 }, ts.zeros { 2, 3 }:reshape(junk_index({ 6 })).shape)
    H.tensor(ts.reduce_sum(ts.ones { 2, 3 }, lying_len(9, { 2 })), { 3, 3 })
    H.tensor(core.apply("reduce_sum", { axis = junk_index({ 1 }) }, ts.ones { 2, 3 }), { 2, 2, 2 })
    H.tensor(ts.slice(ts.arange(4), lying_len(0, { 2 }), lying_len(-3, { 2 })), { 1, 2 })
    H.tensor(ts.pad(ts.ones { 1 }, lying_len(4, { lying_len(-1, { 1, 0 }) })), { 0, 1 })
    H.tensor(ts.tile(ts.ones { 1 }, junk_index({ 2 })), { 1, 1 })
  end)

  it("an attribute table's metamethods are not called", function()
    local attrs = setmetatable({}, { __index = function() error("must not be called") end })
    H.tensor(core.apply("reduce_sum", attrs, ts.ones { 2 }), 2)
  end)

  it("a __len that raises or a table with holes gives a clean result or error", function()
    local t = setmetatable({ 2 }, { __len = function() error("boom") end })
    assert.same({ 2 }, ts.zeros(t).shape)
    local holes = { 2, nil, 3 }
    local ok, err = pcall(ts.zeros, holes)
    assert(ok or err:find("shape entry 2 must be an integer", 1, true), tostring(err))
  end)
end)

------------------------------------------------- 2. internal op attributes

describe("internal ops validate their attributes", function()
  local huge = { MAXI, MINI, 1 << 62, -(1 << 62), 4294967297 }

  it("pad_like and slice_like with overflowing begins are errors naming the op and value", function()
    local g = ts.Graph()
    local a, b = ts.placeholder { graph = g, shape = { 2 } }, ts.placeholder { graph = g, shape = { 3 } }
    fails_with(function() core.node(g, "pad_like", nil, { v1 = { MAXI } }, a, b) end,
      { "pad_like", "9223372036854775807" })
    fails_with(function() core.node(g, "slice_like", nil, { v1 = { MAXI } }, b, a) end,
      { "slice_like", "9223372036854775807" })
    for _, v in ipairs(huge) do
      fails_with(function() core.apply("slice_like", { v1 = { v } }, ts.zeros { 3 }, ts.zeros { 2 }) end,
        { "slice_like", ("%d"):format(v) })
      fails_with(function() core.apply("pad_like", { v1 = { v } }, ts.zeros { 2 }, ts.zeros { 3 }) end,
        { "pad_like", ("%d"):format(v) })
    end
    fails_with(function() core.apply("slice_like", { v1 = { 0, 0 } }, ts.zeros { 3 }, ts.zeros { 2 }) end,
      { "slice_like", "v1 has 2 entries" })
    -- a valid one still works
    H.tensor(core.apply("slice_like", { v1 = { 1 } }, ts.arange(3), ts.zeros { 2 }), { 1, 2 })
    H.tensor(core.apply("pad_like", { v1 = { -1 } }, ts.ones { 1 }, ts.zeros { 3 }), { 0, 0, 1 })
  end)

  it("checks at run time when shapes are only known then", function()
    local g = ts.Graph()
    local p, q = ts.placeholder { graph = g }, ts.placeholder { graph = g }
    local n = core.node(g, "pad_like", nil, { v1 = { MAXI } }, p, q)
    local s <close> = ts.Session(g)
    fails_with(function() s:run(n, { [p] = ts.zeros { 2 }, [q] = ts.zeros { 3 } }) end,
      { "pad_like", "9223372036854775807" })
    local m = core.node(g, "slice_like", nil, { v1 = { MAXI } }, p, q)
    fails_with(function() s:run(m, { [p] = ts.zeros { 3 }, [q] = ts.zeros { 2 } }) end,
      { "slice_like", "9223372036854775807" })
  end)

  it("concat_part, gather_like and broadcast_like check axis, part and indices", function()
    fails_with(function() core.apply("concat_part", { i1 = MAXI }, ts.ones { 2 }, ts.ones { 1 }) end,
      { "concat_part", "9223372036854775807" })
    fails_with(function()
      core.apply("concat_part", { i1 = 1, axis = 5 }, ts.ones { 2 }, ts.ones { 1 })
    end,
      { "concat_part", "axis 5" })
    fails_with(function() core.apply("concat_part", { i1 = 1 }, ts.ones {}, ts.ones {}) end,
      { "concat_part" })
    fails_with(function()
      core.apply("gather_like", { axis = 3 }, ts.ones { 2 }, ts.tensor({ 1, 2 }, "int64"), ts.ones { 4 })
    end, { "gather_like", "axis 3" })
    fails_with(function()
      core.apply("gather_like", nil, ts.ones { 2 }, ts.ones { 2 }, ts.ones { 4 })
    end, { "gather_like", "float64" })
    fails_with(function()
      core.apply("gather_like", nil, ts.ones { 1 }, ts.tensor({ MAXI }, "int64"), ts.ones { 4 })
    end, { "gather_like", "9223372036854775807" })
    fails_with(function()
      core.apply("broadcast_like", { axis = MINI }, ts.ones { 2 }, ts.ones { 2, 3 })
    end, { "broadcast_like", "-9223372036854775808" })
    -- (2^62, 0) blocks do not overflow the offset of the part
    local z = ts.zeros { 2 ^ 62, 0 }
    fails_with(function()
      core.apply("concat_part", { i1 = 3 }, ts.ones { 2, 1 }, z, z, ts.ones { 1, 1 })
    end,
      { "concat_part" })
  end)

  it("public shape ops check v1/v2 against the rank and for overflow", function()
    for _, v in ipairs(huge) do
      fails_with(function() core.apply("slice", { v1 = { v }, v2 = { 1 } }, ts.ones { 3 }) end,
        { "slice", v == MAXI and "9223372036854775808" or ("%d"):format(v >= 0 and v + 1 or v) })
      fails_with(function() ts.pad(ts.ones { 3 }, { { v, v } }) end, { "pad" })
      if v < 0 or v > 1 << 40 then
        fails_with(function() core.apply("pad", { v1 = { v }, v2 = { v } }, ts.ones { 3 }) end,
          { "pad", ("%d"):format(v) })
      end
      fails_with(function() ts.tile(ts.ones { 3 }, { v }) end, { "tile" })
      if v < 0 or v > 1 << 40 then
        fails_with(function() core.apply("tile", { v1 = { v } }, ts.ones { 3 }) end,
          { "tile", ("%d"):format(v) })
      end
      fails_with(function() core.apply("reshape", { v1 = { v } }, ts.ones { 3 }) end,
        { "reshape", "" })
      fails_with(function() core.apply("one_hot", { i1 = v }, ts.tensor({ 1 }, "int64")) end,
        { "" })
    end
    fails_with(function() core.apply("concat", { axis = { 1, 2 } }, ts.ones { 3 }) end,
      { "concat", "one axis" })
    fails_with(function()
      core.apply("gather", { axis = {} }, ts.ones { 3 }, ts.tensor({ 1 }, "int64"))
    end,
      { "gather", "one axis" })
    fails_with(function() core.apply("reduce_sum", { axis = 0 }, ts.ones { 3 }) end,
      { "reduce_sum", "axis 0 is not valid" })
    fails_with(function() core.apply("reduce_sum", { axis = 1.5 }, ts.ones { 3 }) end,
      { "reduce_sum: axis", "1.5" })
    fails_with(function()
      core.apply("reduce_sum", { axis = { 1, 2, 3, 4, 5, 6, 7, 8, 9 } }, ts.ones { 3 })
    end,
      { "reduce_sum: axis", "9 entries" })
    fails_with(function() core.apply("cast", { dtype = 3 }, ts.ones { 3 }) end,
      { "cast", "dtype must be a string" })
    fails_with(function() core.apply("leaky_relu", { f1 = "x" }, ts.ones { 3 }) end,
      { "leaky_relu", "f1 must be a number" })
    fails_with(function() core.apply("one_hot", { i1 = 0.5 }, ts.ones { 3 }) end,
      { "one_hot", "i1", "0.5" })
    fails_with(function() core.apply("reduce_sum", 5, ts.ones { 3 }) end,
      { "reduce_sum", "attributes must be a table" })
  end)
end)

------------------------------------------------------------ 3. freed tensors

describe("a tensor whose finaliser was called by hand", function()
  it("getmetatable does not reach __gc (the metatable is protected)", function()
    assert.equal("tensorslow.Tensor", getmetatable(ts.ones { 1 }))
    assert.is_true(ts.is_tensor(ts.ones { 1 }))
    assert.is_false(ts.is_tensor({}))
  end)

  it("is a clean 'tensor has been freed' error everywhere, and __gc is idempotent", function()
    local t = ts.ones { 2, 2 }
    gc(t)
    gc(t)
    fails_with(function() return t:get(1, 1) end, { "get", "tensor has been freed" })
    fails_with(function() t:set(1, 1, 5) end, { "set", "tensor has been freed" })
    fails_with(function() return tostring(t) end, { "tostring", "tensor has been freed" })
    fails_with(function() return t + 1 end, { "tensor has been freed" })
    fails_with(function() return 1 - t end, { "tensor has been freed" })
    fails_with(function() return ts.matmul(t, t) end, { "tensor has been freed" })
    fails_with(function() return ts.tensor(t) end, { "tensor has been freed" })
    fails_with(function() return ts.constant(t) end, { "tensor has been freed" })
    fails_with(function() return #t end, { "tensor has been freed" })
  end)

  it("every tensor method on a freed tensor names the freeing", function()
    local names = {}
    for name in pairs(core.tensor_methods) do names[#names + 1] = name end
    table.sort(names)
    assert(#names > 50)
    -- valid other arguments where the Lua wrapper checks them first
    local args = { dropout = 0.5, leaky_relu = 0.2, elu = 1, log_softmax = -1, softmax = -1,
      split = 2, slice = { 1, 1 }, pad = { { 0, 0 }, { 0, 0 } }, tile = { 1, 1 }, squeeze = 1,
      transpose = { 2, 1 }, broadcast_to = { 2, 2 }, reverse = 1 }
    for _, name in ipairs(names) do
      local t = ts.ones { 2, 2 }
      gc(t)
      local a = args[name]
      if a == nil then a = t end
      local c = (name == "where" or name:find("scatter")) and t or name == "reverse_sequence" and 2 or nil
      fails_with(function() return t[name](t, a, c) end, { "tensor has been freed" })
    end
  end)

  it("a view of a base freed by hand does not read freed memory", function()
    for _, make in ipairs { function() return ts.ones { 2, 3 } end,
      function() return ts.arange(6) end } do
      local base = make()
      local v = base:reshape { 3, 2 }
      local vv = v:reshape { 6 }
      gc(base)
      fails_with(function() return v:get(1, 1) end, { "get", "tensor has been freed" })
      fails_with(function() return vv:totable() end, { "totable", "tensor has been freed" })
      fails_with(function() return tostring(vv) end, { "tostring", "tensor has been freed" })
      fails_with(function() return v + 1 end, { "tensor has been freed" })
      fails_with(function() return v:reshape { 6 } end, { "reshape", "tensor has been freed" })
      -- shape and dtype stay readable
      assert.same({ 3, 2 }, v.shape)
    end
  end)

  it("a view freed by hand leaves its base usable", function()
    local base = ts.ones { 2, 2 }
    local v = base:reshape { 4 }
    gc(v)
    H.tensor(base, { { 1, 1 }, { 1, 1 } })
    fails_with(function() return v:numel() end, { "numel", "tensor has been freed" })
  end)
end)

------------------------------------------------------------ 4. integer edges

describe("integer edges", function()
  it("reshape checks the product of huge sizes", function()
    fails_with(function() ts.zeros { 2 }:reshape { 2 ^ 32, 2 ^ 32 } end, { "reshape", "4294967296" })
    fails_with(function() ts.zeros { 2 }:reshape(2 ^ 32, 2 ^ 32) end, { "reshape", "4294967296" })
    fails_with(function() ts.zeros { 2 }:reshape { MAXI, 2 } end, { "reshape" })
    fails_with(function() ts.zeros { 2 }:reshape { MINI } end, { "reshape", "-9223372036854775808" })
    fails_with(function() ts.zeros { 2 }:reshape { 2.5 } end, { "reshape", "2.5" })
  end)

  it("indices are 64-bit and quoted as given", function()
    local t = ts.zeros { 2, 2 }
    fails_with(function() t:get(4294967297, 1) end, { "get", "index 4294967297" })
    fails_with(function() t:get(MAXI, 1) end, { "get", "index 9223372036854775807" })
    fails_with(function() t:get(1, MINI) end, { "get", "index -9223372036854775808" })
    fails_with(function() t:set(-3, 1, 0) end, { "set", "index -3" })
    fails_with(function() t:get(1.5, 1) end, { "get", "1.5" })
    assert.equal(0, t:get(2.0, -1))
  end)

  it("shapes quote the dimension", function()
    fails_with(function() ts.zeros { MINI } end, { "zeros", "-9223372036854775808" })
    fails_with(function() ts.ones { 2, -1 } end, { "ones", "-1" })
    fails_with(function() ts.zeros { 2 ^ 40, 2 ^ 40 } end, { "zeros", "too many elements" })
    fails_with(function() ts.eye(-5) end, { "eye", "-5" })
    fails_with(function() ts.eye(2 ^ 40, 2 ^ 40) end, { "eye", "too many elements" })
    assert.same({ 3, 2 }, ts.eye(3.0, 2.0).shape)
  end)

  it("floats with an exact integer value are integers", function()
    assert.same({ 2, 3 }, ts.zeros { 2.0, 3.0 }.shape)
    fails_with(function() ts.one_hot(ts.tensor({ 1 }, "int64"), 2 ^ 40) end, { "not enough memory" })
    assert.same({ 1, 4 }, ts.one_hot(ts.tensor({ 1 }, "int64"), 4.0).shape)
    fails_with(function() ts.one_hot(ts.tensor({ 1 }, "int64"), 4.5) end, { "one_hot", "4.5" })
    H.tensor(ts.pad(ts.ones { 1 }, { { 1.0, 2.0 } }), { 0, 1, 0, 0 })
    fails_with(function() ts.pad(ts.ones { 1 }, { { 2 ^ 63, 0 } }) end, { "pad", "9.2233720368548e+18" })
    fails_with(function() ts.pad(ts.ones { 1 }, { { MAXI, MAXI } }) end, { "pad", "9223372036854775807" })
    fails_with(function() ts.pad(ts.ones { 1 }, { { -(2 ^ 31), 0 } }) end, { "pad", "-2147483648" })
    assert.same({ 3, 1 }, ts.expand_dims(ts.ones { 3 }, 2.0).shape)
    assert.same({ 1, 3 }, ts.slice(ts.ones { 2, 3 }, { 2.0, 1.0 }, { 1.0, -1.0 }).shape)
  end)
end)

------------------------------------------------------------ 5. printing

describe("printing and totable do bounded work", function()
  it("an empty tensor with 2^40 rows prints at once", function()
    local s = tostring(ts.eye(2 ^ 40, 0))
    assert.truthy(s:find("shape=[1099511627776, 0]", 1, true))
    assert(#s < 200)
    s = tostring(ts.zeros { 2 ^ 40, 0, 5 })
    assert(#s < 200)
    s = tostring(ts.zeros { 1000, 1000, 0 })
    assert(#s < 2000, #s)
  end)

  it("a large tensor prints its edges only", function()
    local s = tostring(ts.arange(10 ^ 6))
    assert.truthy(s:find("2, ..., 999997,", 1, true), s)
    assert(#s < 200, s)
    local t = tostring(ts.zeros { 2000, 1 })
    assert(#t < 500, #t)
    -- small tensors are printed in full as before
    assert.equal("tensor([1, 2, 3], shape=[3], dtype=float64)", tostring(ts.tensor { 1, 2, 3 }))
  end)

  it("totable of a tensor making more than 2^27 Lua values is an error naming the count", function()
    fails_with(function() ts.eye(2 ^ 40, 0):totable() end, { "totable", "[1099511627776, 0]", "134217728" })
    assert.same({ {}, {} }, ts.zeros { 2, 0 }:totable())
  end)
end)

------------------------------------------------------------ 6. arange, cast

describe("one rule for integer dtypes", function()
  it("arange into uint8/int64 refuses values it cannot hold, naming the value", function()
    fails_with(function() ts.arange(250, 260, "uint8") end, { "arange", "256", "uint8" })
    fails_with(function() ts.arange(-1, 3, "uint8") end, { "arange", "-1", "uint8" })
    fails_with(function() ts.tensor({ 256 }, "uint8") end, { "256", "uint8" })
    fails_with(function() ts.arange(0, 1, 0.5, "int64") end, { "arange", "0.5", "int64" })
    H.tensor(ts.arange(250, 256, "uint8"), { 250, 251, 252, 253, 254, 255 }, "uint8")
    fails_with(function() ts.arange(0 / 0) end, { "arange", "nan" })
    fails_with(function() ts.arange(0, math.huge) end, { "arange", "inf" })
    fails_with(function() ts.arange(0, 1, math.huge) end, { "arange", "step" })
    fails_with(function() ts.arange(0, 1e300, 1) end, { "arange", "too many" })
  end)

  it("t:cast() without a dtype is an error naming the method", function()
    fails_with(function() ts.ones { 2 }:cast() end, { "cast", "dtype" })
    fails_with(function() ts.ones { 2 }:cast("int8") end, { "int8" })
    assert.equal("int64", ts.ones { 2 }:cast("int64").dtype)
  end)
end)

---------------------------------------------------- 7a. hand-written core

describe("hand-written core: messages name the function and the value", function()
  local cases = {}
  local function case(label, f, texts) cases[#cases + 1] = { label, f, texts } end

  -- shape constructors x bad shapes
  local ctors = {
    zeros = function(s) return ts.zeros(s) end,
    ones = function(s) return ts.ones(s) end,
    rand = function(s) return ts.rand(s) end,
    randn = function(s) return ts.randn(s) end,
    fill = function(s) return ts.fill(s, 1) end,
  }
  local bad_shapes = {
    { { 2.5 }, { "shape entry 1", "2.5" } },
    { { -3 }, { "invalid dimension -3" } },
    { { MINI }, { "-9223372036854775808" } },
    { { 2, MINI }, { "-9223372036854775808", "entry 2" } },
    { "abc", { "shape", "string" } },
    { { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, { "shape", "9 entries" } },
    { { 0 / 0 }, { "shape entry 1", "nan" } },
    { { math.huge }, { "shape entry 1", "inf" } },
    { { 2 ^ 63 }, { "shape entry 1", "9.2233720368548e+18" } },
    { { "3" }, { "shape entry 1", "string" } },
    { { {} }, { "shape entry 1", "table" } },
    { { 2 ^ 32, 2 ^ 32 }, { "too many elements" } },
    { { MAXI, MAXI }, { "too many elements" } },
    { true, { "shape", "boolean" } },
    { 1.5, { "shape", "1.5" } },
    { -7, { "invalid dimension -7" } },
  }
  for name, f in pairs(ctors) do
    for _, bs in ipairs(bad_shapes) do
      local texts = { name }
      for _, t in ipairs(bs[2]) do texts[#texts + 1] = t end
      case(name .. " " .. tostring(bs[1]), function() return f(bs[1]) end, texts)
    end
  end

  -- get/set x bad indices, ranks 1 and 2
  local bad_index = {
    { MAXI, "9223372036854775807" }, { MINI, "-9223372036854775808" },
    { 2 ^ 53, "9007199254740992" }, { 4294967297, "4294967297" }, { 0, "index 0" },
    { -3, "index -3" }, { 3, "index 3" }, { 2.5, "2.5" }, { 0 / 0, "nan" }, { math.huge, "inf" },
    { "x", "string" }, { {}, "table" },
  }
  for _, rank in ipairs { 1, 2 } do
    local shape = rank == 1 and { 2 } or { 2, 2 }
    for _, bi in ipairs(bad_index) do
      case(("get rank %d %s"):format(rank, tostring(bi[1])), function()
        local t = ts.zeros(shape)
        if rank == 1 then return t:get(bi[1]) end
        return t:get(1, bi[1])
      end, { "get", bi[2] })
      case(("set rank %d %s"):format(rank, tostring(bi[1])), function()
        local t = ts.zeros(shape)
        if rank == 1 then return t:set(bi[1], 0) end
        return t:set(bi[1], 1, 0)
      end, { "set", bi[2] })
    end
  end

  -- reshape x bad sizes (table and varargs forms)
  local bad_sizes = {
    { MINI, "-9223372036854775808" }, { -2, "-2" }, { 2.5, "2.5" }, { 0 / 0, "nan" },
    { math.huge, "inf" }, { "x", "string" }, { 2 ^ 40, "1099511627776" }, { MAXI, "" },
  }
  for _, bs in ipairs(bad_sizes) do
    case("reshape{} " .. tostring(bs[1]), function() return ts.zeros { 2 }:reshape { bs[1] } end,
      { "reshape", bs[2] })
    case("reshape() " .. tostring(bs[1]), function() return ts.zeros { 2 }:reshape(bs[1]) end,
      { "reshape", bs[2] })
  end

  -- Lua wrappers x bad integer arguments
  local bad_ints = {
    { 2.5, "2.5" }, { 0 / 0, "nan" }, { math.huge, "inf" }, { "x", "string" }, { true, "boolean" },
  }
  local x = ts.ones { 2, 3 }
  local wrappers = {
    { "transpose", function(v) return ts.transpose(x, { v, 1 }) end },
    { "reshape", function(v) return ts.reshape(x, { v }) end },
    { "slice", function(v) return ts.slice(x, { v, 1 }, { 1, 1 }) end },
    { "slice", function(v) return ts.slice(x, { 1, 1 }, { 1, v }) end },
    { "tile", function(v) return ts.tile(x, { v, 1 }) end },
    { "pad", function(v) return ts.pad(x, { { v, 0 }, { 0, 0 } }) end },
    { "one_hot", function(v) return ts.one_hot(ts.tensor({ 1 }, "int64"), v) end },
    { "expand_dims", function(v) return ts.expand_dims(x, v) end },
    { "split", function(v) return ts.split(x, 1, v) end },
    { "reduce_sum", function(v) return ts.reduce_sum(x, { v }) end },
    { "reduce_max", function(v) return ts.reduce_max(x, { v }) end },
    { "reduce_mean", function(v) return ts.reduce_mean(x, { v }) end },
    { "reduce_min", function(v) return ts.reduce_min(x, v) end },
    { "argmax", function(v) return ts.argmax(x, v) end },
  }
  for _, w in ipairs(wrappers) do
    for _, bi in ipairs(bad_ints) do
      case(w[1] .. " " .. tostring(bi[1]), function() return w[2](bi[1]) end,
        { w[1], bi[2] == "string" and "" or bi[2] == "boolean" and "" or bi[2] })
    end
  end

  -- huge integers through the wrappers: an error naming the function
  local huge_ints = { MAXI, MINI, 2 ^ 53, -(2 ^ 53) }
  local huge_wrappers = {
    { "transpose", function(v) return ts.transpose(x, { v, 1 }) end },
    { "slice", function(v) return ts.slice(x, { v, 1 }, { 1, 1 }) end },
    { "tile", function(v) return ts.tile(x, { v, v }) end },
    { "pad", function(v) return ts.pad(x, { { v, v }, { 0, 0 } }) end },
    { "expand_dims", function(v) return ts.expand_dims(x, v) end },
    { "reduce_sum", function(v) return ts.reduce_sum(x, v) end },
    { "squeeze", function(v) return ts.squeeze(x, v) end },
    { "concat", function(v) return ts.concat({ x, x }, v) end },
    { "stack", function(v) return ts.stack({ x, x }, v) end },
    { "gather", function(v) return ts.gather(x, { 1 }, v) end },
    { "softmax", function(v) return ts.softmax(x, v) end },
    { "argmax", function(v) return ts.argmax(x, v) end },
  }
  for _, w in ipairs(huge_wrappers) do
    for _, v in ipairs(huge_ints) do
      case(w[1] .. " " .. tostring(v), function() return w[2](v) end, { w[1] })
    end
  end

  -- ts.tensor with bad nested values
  local bad_values = {
    { { 1, "x" }, { "[2]", "string" } },
    { { { 1, 2 }, { 3 } }, { "ragged", "[2]" } },
    { { { 1 }, 2 }, { "ragged", "[2]" } },
    { { 1, { 2 } }, { "ragged", "[2]" } },
    { { true }, { "[1]", "boolean" } },
  }
  for _, bv in ipairs(bad_values) do
    for _, dt in ipairs { "float64", "float32", "int64", "uint8" } do
      case("tensor " .. dt, function() return ts.tensor(bv[1], dt) end, bv[2])
    end
  end
  for _, dt in ipairs { "int64", "uint8" } do
    case("tensor 2.5 " .. dt, function() return ts.tensor({ 2.5 }, dt) end, { "2.5", dt })
    case("tensor nan " .. dt, function() return ts.tensor({ 0 / 0 }, dt) end, { "nan", dt })
    case("tensor inf " .. dt, function() return ts.tensor({ math.huge }, dt) end, { "inf", dt })
    case("tensor 2^63 " .. dt, function() return ts.tensor({ 2 ^ 63 }, dt) end, { "9.2233720368548e+18", dt })
    case("fill 0.5 " .. dt, function() return ts.fill({ 2 }, 0.5, dt) end, { "0.5", dt })
  end
  case("tensor uint8 -1", function() return ts.tensor({ -1 }, "uint8") end, { "-1", "uint8" })
  case("tensor uint8 MAXI", function() return ts.tensor({ MAXI }, "uint8") end,
    { "9223372036854775807", "uint8" })
  case("tensor deep", function()
    local t = {}
    t[1] = t
    return ts.tensor(t)
  end, { "deeper than the maximum rank" })
  case("tensor bad dtype", function() return ts.tensor({ 1 }, "int8") end, { "int8" })

  -- arange / eye / seed
  for _, dt in ipairs { "uint8", "int64" } do
    case("arange 0.5 " .. dt, function() return ts.arange(0.5, 3, dt) end, { "arange", "0.5", dt })
    case("arange 2^63 " .. dt, function() return ts.arange(2 ^ 63, 2 ^ 63 + 2 ^ 11, 2 ^ 10, dt) end,
      { "arange", dt })
  end
  case("arange 300 uint8", function() return ts.arange(300, 301, "uint8") end, { "arange", "300" })
  case("eye 2.5", function() return ts.eye(2.5) end, { "eye", "2.5" })
  case("eye MINI", function() return ts.eye(3, MINI) end, { "eye", "-9223372036854775808" })
  case("seed 0.5", function() return ts.seed(0.5) end, { "seed", "0.5" })
  case("seed nan", function() return ts.seed(0 / 0) end, { "seed", "nan" })

  it(("has at least 300 cases (%d)"):format(#cases), function()
    assert(#cases >= 300, #cases)
  end)

  it("each case raises a string naming the function and/or the value", function()
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[2])
      assert(not ok, c[1] .. ": expected an error")
      assert(type(err) == "string", c[1] .. ": error is not a string")
      for _, text in ipairs(c[3]) do
        assert(err:find(text, 1, true), ("%s: error %q does not contain %q"):format(c[1], err, text))
      end
    end
  end)
end)

---------------------------------------------------------- 7b. the sweep

describe("every public function with hostile values", function()
  local freed = ts.ones { 2 }
  gc(freed)
  local recursive = {}
  recursive[1] = recursive
  local hostile = {
    { "nil", nil }, { "true", true }, { "string", "x" }, { "dtype", "float32" }, { "{}", {} },
    { "function", print }, { "maxinteger", MAXI }, { "mininteger", MINI }, { "2^53", 2 ^ 53 },
    { "2^63", 2 ^ 63 }, { "-1", -1 }, { "0", 0 }, { "nan", 0 / 0 }, { "inf", math.huge },
    { "-inf", -math.huge }, { "0.5", 0.5 }, { "len -4", lying_len(-4) },
    { "len 2^62", lying_len(2 ^ 62, { 1 }) }, { "index junk", junk_index() },
    { "index raises", setmetatable({}, { __index = function() error("boom") end }) },
    { "recursive", recursive }, { "nested", { { MAXI, MINI }, { 0 / 0 } } },
    { "freed", freed }, { "userdata", io.stdout }, { "coroutine", coroutine.create(print) },
  }
  -- Functions that block, touch files, or change state the other specs rely on.
  local skip = {
    io = true, data = true, set_profile_builder = true, set_default_graph = true,
    RegisterGradient = true, set_num_threads = true, clock = true, test = true, core = true,
    summary = true, Session = true,
  }

  local function clean(label, ok, err)
    assert(ok or type(err) == "string", label .. ": error is not a string: " .. tostring(err))
  end

  -- Returns ("name", f) for the functions of ts and its sub-tables.
  local function functions()
    local out = {}
    for k, v in pairs(ts) do
      if not skip[k] and not k:match("^_") then
        if type(v) == "function" then
          out[#out + 1] = { "ts." .. k, v }
        elseif type(v) == "table" and not k:match("^_") then
          for k2, v2 in pairs(v) do
            if type(v2) == "function" then out[#out + 1] = { ("ts.%s.%s"):format(k, k2), v2 } end
          end
        end
      end
    end
    table.sort(out, function(a, b) return a[1] < b[1] end)
    return out
  end

  it("ts.* functions: f(v), f(t, v), f(v, t), f(t, t, v)", function()
    local fs = functions()
    assert(#fs > 80, #fs)
    local n = 0
    for _, f in ipairs(fs) do
      for _, h in ipairs(hostile) do
        local t = ts.ones { 2, 3 }
        local label = f[1] .. "(" .. h[1] .. ")"
        clean(label, pcall(f[2], h[2]))
        clean(label .. " 2", pcall(f[2], t, h[2]))
        clean(label .. " 3", pcall(f[2], h[2], t))
        clean(label .. " 4", pcall(f[2], t, t, h[2]))
        n = n + 4
      end
    end
    assert(n > 8000, n)
    ts.set_default_graph(ts.Graph())
    -- the state is still usable
    H.tensor(ts.ones { 2 } + 1, { 2, 2 })
  end)

  it("tensor methods: t:m(v), t:m(v, v), t:m(1, v)", function()
    local names = {}
    for name in pairs(core.tensor_methods) do names[#names + 1] = name end
    table.sort(names)
    assert(#names > 50)
    for _, name in ipairs(names) do
      for _, h in ipairs(hostile) do
        for _, dt in ipairs { "float64", "int64" } do
          local t = ts.ones({ 2, 3 }, dt)
          local label = ("tensor:%s(%s) %s"):format(name, h[1], dt)
          clean(label, pcall(t[name], t, h[2]))
          clean(label .. " 2", pcall(t[name], t, h[2], h[2]))
          clean(label .. " 3", pcall(t[name], t, 1, h[2]))
        end
      end
    end
    -- metamethods
    for _, h in ipairs(hostile) do
      local t = ts.ones { 2 }
      for _, mm in ipairs { "__add", "__sub", "__mul", "__div", "__pow" } do
        clean(mm .. " " .. h[1], pcall(core.Tensor_mt[mm], t, h[2]))
        clean(mm .. " r " .. h[1], pcall(core.Tensor_mt[mm], h[2], t))
      end
      clean("__index " .. h[1], pcall(function() return t[h[2]] end))
    end
  end)

  it("node methods: n:m(v), n:m(v, v), n:m(1, v)", function()
    local g = ts.Graph()
    local names = {}
    for name in pairs(core.node_methods) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      for _, h in ipairs(hostile) do
        local n = ts.placeholder { graph = g, shape = { 2, 3 } }
        local label = ("node:%s(%s)"):format(name, h[1])
        clean(label, pcall(n[name], n, h[2]))
        clean(label .. " 2", pcall(n[name], n, h[2], h[2]))
        clean(label .. " 3", pcall(n[name], n, 1, h[2]))
      end
    end
  end)

  it("core functions with hostile attributes and inputs", function()
    local ops = {
      "reshape", "squeeze", "expand_dims", "concat", "stack", "slice", "gather", "tile", "pad",
      "cast", "one_hot", "transpose", "matmul", "reduce_sum", "reduce_max", "argmax", "softmax",
      "slice_like", "pad_like", "tile_like", "reshape_like", "concat_part", "gather_like",
      "broadcast_like", "reduce_sum_like", "leaky_relu", "add",
    }
    local keys = { "axis", "v1", "v2", "i1", "f1", "dtype", "seed", "keepdims" }
    local g = ts.Graph()
    local p = ts.placeholder { graph = g, shape = { 2, 3 } }
    local q = ts.placeholder { graph = g }
    for _, op in ipairs(ops) do
      for _, key in ipairs(keys) do
        for _, h in ipairs(hostile) do
          local a, b = ts.ones { 2, 3 }, ts.tensor({ { 1, 2, 1 }, { 2, 1, 1 } }, "int64")
          local label = ("%s{%s = %s}"):format(op, key, h[1])
          clean(label, pcall(core.apply, op, { [key] = h[2] }, a))
          clean(label .. " 2", pcall(core.apply, op, { [key] = h[2] }, a, a))
          clean(label .. " 3", pcall(core.apply, op, { [key] = h[2] }, a, b, a))
          clean(label .. " node", pcall(core.node, g, op, nil, { [key] = h[2] }, p, q))
        end
      end
    end
  end)
end)
