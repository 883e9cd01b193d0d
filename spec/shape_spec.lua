local ts = require "tensorslow"
local H = require "helpers"
local both = H.both

local DTYPES = { "float32", "float64", "int64", "uint8" }

local function t23(dtype) return ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, dtype) end

describe("transpose", function()
  for _, dt in ipairs(DTYPES) do
    it("reverses the axes by default (" .. dt .. ")", function()
      both(function(x) return ts.transpose(x) end, { t23(dt) },
        { { 1, 4 }, { 2, 5 }, { 3, 6 } }, { 3, 2 }, dt)
    end)
  end

  it("follows a 1-based perm on a 3-D tensor", function()
    local x = ts.arange(24):reshape(2, 3, 4)
    local want = {}
    for i = 1, 3 do
      want[i] = {}
      for j = 1, 4 do
        want[i][j] = {}
        for k = 1, 2 do want[i][j][k] = x:get(k, i, j) end
      end
    end
    both(function(a) return a:transpose { 2, 3, 1 } end, { x }, want, { 3, 4, 2 }, "float64")
    both(function(a) return a:transpose { 1, 3, 2 } end, { ts.tensor({ { { 1, 2 } } }, "uint8") },
      { { { 1 }, { 2 } } }, { 1, 2, 1 }, "uint8")
  end)

  it("handles empty tensors, scalars and rank 1", function()
    both(function(a) return ts.transpose(a) end, { ts.zeros({ 0, 3 }) }, { {}, {}, {} }, { 3, 0 },
      "float64")
    both(function(a) return ts.transpose(a) end, { ts.tensor(5) }, 5, {}, "float64")
    both(function(a) return ts.transpose(a) end, { ts.tensor { 1, 2 } }, { 1, 2 }, { 2 }, "float64")
  end)

  it("rejects a bad perm naming the op and shape", function()
    H.fails(function() ts.transpose(t23(), { 1, 1 }) end, "not a permutation")
    H.fails(function() ts.transpose(t23(), { 1, 2, 3 }) end, "perm has 3 entries, shape [2, 3]")
    H.fails(function() ts.transpose(t23(), { 0, 1 }) end, "1-based")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3 } }
    H.fails(function() ts.transpose(x, { 2, 2 }, { name = "tp" }) end, "transpose 'tp'")
  end)
end)

describe("reshape", function()
  for _, dt in ipairs(DTYPES) do
    it("infers one -1 (" .. dt .. ")", function()
      both(function(x) return ts.reshape(x, { 3, -1 }) end, { t23(dt) },
        { { 1, 2 }, { 3, 4 }, { 5, 6 } }, { 3, 2 }, dt)
    end)
  end

  it("node:reshape builds a node and tensor:reshape keeps working", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = x:reshape { -1 }
    assert.is_true(ts.is_node(y))
    assert.are.equal("reshape", y.op)
    assert.are.same({ -1 }, y.shape)
    assert.are.same({ 3, 2 }, t23():reshape(3, 2).shape)
    assert.are.same({ 6 }, t23():reshape { 6 }.shape)
  end)

  it("reshapes to a scalar and from empty tensors", function()
    both(function(x) return ts.reshape(x, {}) end, { ts.tensor { 7 } }, 7, {}, "float64")
    both(function(x) return ts.reshape(x, { 2, 0 }) end, { ts.zeros { 0, 3 } }, { {}, {} },
      { 2, 0 }, "float64")
  end)

  it("reports bad shapes at construction and at run time", function()
    H.fails(function() ts.reshape(t23(), { 4, -1 }) end, "cannot reshape a tensor of shape [2, 3]")
    H.fails(function() ts.reshape(t23(), { 5 }) end, "into 5 elements")
    H.fails(function() ts.reshape(t23(), { -1, -1 }) end, "only one dimension")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = ts.reshape(x, { 4, -1 }, { name = "r" })
    local sess <close> = ts.Session(g)
    H.fails(function() sess:run(y, { [x] = t23() }) end, "reshape 'r'")
  end)
end)

describe("squeeze and expand_dims", function()
  for _, dt in ipairs(DTYPES) do
    it("squeezes every size-1 axis or the given one (" .. dt .. ")", function()
      local x = ts.tensor({ { { 1 }, { 2 } } }, dt) -- [1, 2, 1]
      both(function(a) return ts.squeeze(a) end, { x }, { 1, 2 }, { 2 }, dt)
      both(function(a) return a:squeeze(-1) end, { x }, { { 1, 2 } }, { 1, 2 }, dt)
      both(function(a) return ts.squeeze(a, 1) end, { x }, { { 1 }, { 2 } }, { 2, 1 }, dt)
    end)
  end

  it("refuses to squeeze an axis that is not 1", function()
    H.fails(function() ts.squeeze(t23(), 2) end, "cannot squeeze axis 2 of size 3 in shape [2, 3]")
    H.fails(function() ts.squeeze(t23(), 3) end, "axis 3 is out of range for rank 2")
  end)

  it("expand_dims inserts at 1-based positions, -1 appends", function()
    both(function(a) return ts.expand_dims(a, 1) end, { ts.tensor { 1, 2 } }, { { 1, 2 } }, { 1, 2 },
      "float64")
    both(function(a) return a:expand_dims(2) end, { ts.tensor { 1, 2 } }, { { 1 }, { 2 } }, { 2, 1 },
      "float64")
    both(function(a) return ts.expand_dims(a, -1) end, { ts.tensor({ 1, 2 }, "uint8") },
      { { 1 }, { 2 } }, { 2, 1 }, "uint8")
    both(function(a) return ts.expand_dims(a, 1) end, { ts.zeros { 0 } }, { {} }, { 1, 0 }, "float64")
    H.fails(function() ts.expand_dims(ts.tensor { 1, 2 }, 4) end, "out of range")
  end)
end)

describe("concat and stack", function()
  for _, dt in ipairs(DTYPES) do
    it("concatenates along an axis (" .. dt .. ")", function()
      local a, b = t23(dt), ts.tensor({ { 7 }, { 8 } }, dt)
      both(function(x, y) return ts.concat({ x, y }, 2) end, { a, b },
        { { 1, 2, 3, 7 }, { 4, 5, 6, 8 } }, { 2, 4 }, dt)
      both(function(x, y) return ts.concat({ x, y, x }, -1) end, { a, b },
        { { 1, 2, 3, 7, 1, 2, 3 }, { 4, 5, 6, 8, 4, 5, 6 } }, { 2, 7 }, dt)
      both(function(x) return x:concat(x, 1) end, { a },
        { { 1, 2, 3 }, { 4, 5, 6 }, { 1, 2, 3 }, { 4, 5, 6 } }, { 4, 3 }, dt)
    end)

    it("stacks along a new axis (" .. dt .. ")", function()
      local a, b = ts.tensor({ 1, 2 }, dt), ts.tensor({ 3, 4 }, dt)
      both(function(x, y) return ts.stack({ x, y }) end, { a, b }, { { 1, 2 }, { 3, 4 } }, { 2, 2 }, dt)
      both(function(x, y) return ts.stack({ x, y }, 2) end, { a, b }, { { 1, 3 }, { 2, 4 } }, { 2, 2 }, dt)
      both(function(x, y) return x:stack({ y, x }, -1) end, { a, b }, { { 1, 3, 1 }, { 2, 4, 2 } },
        { 2, 3 }, dt)
    end)
  end

  it("handles empty pieces and scalars", function()
    both(function(x, y) return ts.concat({ x, y }, 1) end, { ts.zeros { 0, 2 }, ts.ones { 1, 2 } },
      { { 1, 1 } }, { 1, 2 }, "float64")
    both(function(x, y) return ts.stack({ x, y }) end, { ts.tensor(1), ts.tensor(2) }, { 1, 2 }, { 2 },
      "float64")
  end)

  it("reports mismatched shapes and dtypes", function()
    H.fails(function() ts.concat({ t23(), ts.ones { 3, 3 } }, 2) end,
      "input 2 has shape [3, 3], which differs from [2, 3] outside axis 2")
    H.fails(function() ts.concat({ t23(), ts.ones { 2 } }, 1) end, "ranks differ")
    H.fails(function() ts.concat({ t23("float32"), t23("float64") }, 1) end, "dtypes float32 and float64")
    H.fails(function() ts.stack({ ts.ones { 2 }, ts.ones { 3 } }) end, "must have the same shape")
    H.fails(function() ts.concat({}, 1) end, "empty")
    H.fails(function() t23():concat(2) end,
      "concat: expected a node, a tensor or a list to join to the first, got number")
    H.fails(function() ts.concat({ ts.tensor(1), ts.tensor(2) }) end, "cannot concatenate scalars")
  end)
end)

describe("slice and split", function()
  for _, dt in ipairs(DTYPES) do
    it("slices with a 1-based begin and size -1 (" .. dt .. ")", function()
      both(function(x) return ts.slice(x, { 1, 2 }, { -1, 2 }) end, { t23(dt) },
        { { 2, 3 }, { 5, 6 } }, { 2, 2 }, dt)
      both(function(x) return x:slice({ 2, -1 }, { 1, 1 }) end, { t23(dt) }, { { 6 } }, { 1, 1 }, dt)
      both(function(x) return ts.slice(x, { 1, 4 }, { 2, 0 }) end, { t23(dt) }, { {}, {} }, { 2, 0 }, dt)
    end)
  end

  it("reports out-of-range slices at construction and at run time", function()
    H.fails(function() ts.slice(t23(), { 1, 3 }, { 1, 2 }) end,
      "begin 3 with size 2 on axis 2 goes past the end of shape [2, 3]")
    H.fails(function() ts.slice(t23(), { 4, 1 }, { 1, 1 }) end, "begin 4 on axis 1 is out of range")
    H.fails(function() ts.slice(t23(), { 1 }, { 1 }) end, "need 2 entries")
    H.fails(function() ts.slice(t23(), { 0, 1 }) end, "1-based")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    local y = ts.slice(x, { 1, 2 }, { 1, 5 }, { name = "s" })
    local sess <close> = ts.Session(g)
    H.fails(function() sess:run(y, { [x] = t23() }) end, "slice 's'")
  end)

  it("splits into equal pieces and given sizes", function()
    local parts = ts.split(t23(), 3, 2)
    assert.are.equal(3, #parts)
    H.tensor(parts[2], { { 2 }, { 5 } })
    parts = t23("int64"):split({ 2, -1 }, -1)
    H.tensor(parts[1], { { 1, 2 }, { 4, 5 } }, "int64")
    H.tensor(parts[2], { { 3 }, { 6 } }, "int64")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3 }, dtype = "float32" }
    local ps = x:split(2, 1)
    local sess <close> = ts.Session(g)
    local r = sess:run(ps, { [x] = t23("float32") })
    H.tensor(r[1], { { 1, 2, 3 } }, "float32")
    H.tensor(r[2], { { 4, 5, 6 } }, "float32")
    H.fails(function() ts.split(t23(), 2, 2) end, "cannot be split into 2 equal pieces")
    H.fails(function() ts.split(t23(), { 1, 1 }, 2) end, "sizes add up to 2")
    H.fails(function() ts.split(ts.placeholder { graph = g }, 2) end, "rank of the input must be known")
  end)
end)

describe("gather", function()
  for _, dt in ipairs(DTYPES) do
    it("gathers rows and columns with 1-based indices (" .. dt .. ")", function()
      both(function(x, i) return ts.gather(x, i) end, { t23(dt), ts.tensor({ 2, 2, 1 }, "int64") },
        { { 4, 5, 6 }, { 4, 5, 6 }, { 1, 2, 3 } }, { 3, 3 }, dt)
      both(function(x, i) return x:gather(i, 2) end, { t23(dt), ts.tensor({ { 3 }, { 1 } }, "uint8") },
        { { { 3 }, { 1 } }, { { 6 }, { 4 } } }, { 2, 2, 1 }, dt)
      both(function(x, i) return ts.gather(x, i, -1) end, { t23(dt), ts.tensor(2, "int64") },
        { 2, 5 }, { 2 }, dt)
    end)
  end

  it("takes Lua tables as int64 indices and empty index lists", function()
    H.tensor(ts.gather(t23(), { 3 }, 2), { { 3 }, { 6 } })
    both(function(x, i) return ts.gather(x, i) end, { t23(), ts.zeros({ 0 }, "int64") }, {}, { 0, 3 },
      "float64")
  end)

  it("fails at run time naming the op and the index", function()
    H.fails(function() ts.gather(t23(), { 3 }) end,
      "gather: index 3 is out of range for axis 1 of size 2")
    H.fails(function() ts.gather(t23(), { 0 }) end, "index 0 is out of range")
    H.fails(function() ts.gather(t23(), ts.tensor { 1 }) end, "indices must be int64 or uint8")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { 2, 3 } }
    local i = ts.placeholder { graph = g, dtype = "int64", shape = { 1 } }
    local y = ts.gather(x, i, 2, { name = "pick" })
    local sess <close> = ts.Session(g)
    H.tensor(sess:run(y, { [x] = t23(), [i] = { 2 } }), { { 2 }, { 5 } })
    H.fails(function() sess:run(y, { [x] = t23(), [i] = { 4 } }) end,
      "gather 'pick': index 4 is out of range for axis 2 of size 3")
  end)
end)

describe("tile and pad", function()
  for _, dt in ipairs(DTYPES) do
    it("tiles (" .. dt .. ")", function()
      both(function(x) return ts.tile(x, { 2, 1 }) end, { ts.tensor({ { 1, 2 } }, dt) },
        { { 1, 2 }, { 1, 2 } }, { 2, 2 }, dt)
      both(function(x) return x:tile { 1, 3 } end, { ts.tensor({ { 1, 2 } }, dt) },
        { { 1, 2, 1, 2, 1, 2 } }, { 1, 6 }, dt)
      both(function(x) return x:tile { 2, 0 } end, { ts.tensor({ { 1, 2 } }, dt) }, { {}, {} }, { 2, 0 }, dt)
    end)

    it("pads with a constant (" .. dt .. ")", function()
      both(function(x) return ts.pad(x, { { 1, 0 }, { 0, 2 } }, 9) end, { ts.tensor({ { 1, 2 } }, dt) },
        { { 9, 9, 9, 9 }, { 1, 2, 9, 9 } }, { 2, 4 }, dt)
      both(function(x) return x:pad { { 1, 1 } } end, { ts.tensor({ 5 }, dt) }, { 0, 5, 0 }, { 3 }, dt)
    end)
  end

  it("pads and tiles empty tensors and reports bad arguments", function()
    both(function(x) return ts.pad(x, { { 1, 1 }, { 0, 0 } }, 2) end, { ts.zeros { 0, 2 } },
      { { 2, 2 }, { 2, 2 } }, { 2, 2 }, "float64")
    H.fails(function() ts.tile(t23(), { 2 }) end, "1 multiples given for shape [2, 3]")
    H.fails(function() ts.pad(t23(), { { 1, 1 } }) end, "1 paddings given for shape [2, 3]")
    H.fails(function() ts.pad(t23(), { { -1, 1 }, { 0, 0 } }) end, "negative padding on axis 1")
    H.fails(function() ts.pad(t23("uint8"), { { 1, 1 }, { 0, 0 } }, -1) end,
      "constant value -1 does not fit dtype uint8")
    H.fails(function() ts.pad(t23("int64"), { { 1, 1 }, { 0, 0 } }, 0.5) end, "does not fit dtype int64")
    H.fails(function() ts.tile(t23(), { 1 << 62, 1 }) end, "too large")
    H.fails(function() ts.reshape(t23(), { 1 << 62, 1 << 62, -1 }) end, "too large")
  end)
end)

describe("cast and one_hot", function()
  it("casts between dtypes", function()
    both(function(x) return ts.cast(x, "int64") end, { ts.tensor { 1.5, -2.5, 3 } }, { 1, -2, 3 }, { 3 },
      "int64")
    both(function(x) return x:cast "float32" end, { ts.tensor({ 1, 255 }, "uint8") }, { 1, 255 }, { 2 },
      "float32")
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "int64" }
    assert.are.equal("float64", ts.cast(x, "float64").dtype)
    H.fails(function() ts.cast(x, "complex") end, "unknown dtype")
  end)

  it("one_hot turns 1-based indices into rows; 0 and out of range give zeros", function()
    both(function(i) return ts.one_hot(i, 3) end, { ts.tensor({ 1, 3, 0, 4 }, "int64") },
      { { 1, 0, 0 }, { 0, 0, 1 }, { 0, 0, 0 }, { 0, 0, 0 } }, { 4, 3 }, "float64")
    both(function(i) return i:one_hot(2, { dtype = "float32" }) end, { ts.tensor({ { 2 } }, "uint8") },
      { { { 0, 1 } } }, { 1, 1, 2 }, "float32")
    H.tensor(ts.one_hot({ 2 }, 2, { dtype = "uint8" }), { { 0, 1 } }, "uint8")
    both(function(i) return ts.one_hot(i, 3) end, { ts.zeros({ 0 }, "int64") }, {}, { 0, 3 }, "float64")
    H.fails(function() ts.one_hot(ts.tensor { 1.0 }, 2) end, "indices must be int64 or uint8")
  end)
end)

describe("identity, stop_gradient, zeros_like, ones_like", function()
  for _, dt in ipairs(DTYPES) do
    it("keep shape and dtype (" .. dt .. ")", function()
      both(function(x) return ts.identity(x) end, { t23(dt) }, { { 1, 2, 3 }, { 4, 5, 6 } }, { 2, 3 }, dt)
      both(function(x) return x:stop_gradient() end, { t23(dt) }, { { 1, 2, 3 }, { 4, 5, 6 } }, { 2, 3 }, dt)
      both(function(x) return ts.zeros_like(x) end, { t23(dt) }, { { 0, 0, 0 }, { 0, 0, 0 } }, { 2, 3 }, dt)
      both(function(x) return x:ones_like() end, { t23(dt) }, { { 1, 1, 1 }, { 1, 1, 1 } }, { 2, 3 }, dt)
    end)
  end

  it("stop_gradient is its own op", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g }
    assert.are.equal("stop_gradient", ts.stop_gradient(x).op)
    assert.are.equal("identity", ts.identity(x).op)
    both(function(a) return ts.ones_like(a) end, { ts.zeros { 0, 2 } }, {}, { 0, 2 }, "float64")
  end)
end)

describe("shape inference with unknown dimensions", function()
  it("propagates ? at build and checks the real shapes at run time", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local u = ts.placeholder { graph = g }
    assert.are.same({ 3, -1 }, ts.transpose(x).shape)
    assert.are.same({ -1, 3 }, ts.concat({ x, u }, 1).shape)
    assert.are.same({ -1, 6 }, ts.concat({ x, x }, 2).shape)
    assert.are.same({ -1, 3, 2 }, ts.stack({ x, x }, -1).shape)
    assert.are.same({ 3 }, ts.squeeze(x, 1).shape)
    assert.is_nil(ts.squeeze(x).shape)
    assert.are.same({ -1, 1, 3 }, ts.expand_dims(x, 2).shape)
    assert.are.same({ -1, 2 }, ts.slice(x, { 1, 2 }, { -1, 2 }).shape)
    assert.are.same({ -1, 3 }, ts.tile(x, { 2, 1 }).shape)
    assert.are.same({ -1, 5 }, ts.pad(x, { { 1, 1 }, { 1, 1 } }).shape)
    assert.are.same({ -1, 3, 4 }, ts.one_hot(ts.cast(x, "int64"), 4).shape)
    assert.is_nil(ts.transpose(u).shape)
    H.fails(function() ts.concat({ x, ts.placeholder { graph = g, shape = { 2, 2 } } }, 1) end,
      "input 2 has shape [2, 2], which differs from [?, 3] outside axis 1")
    local sess <close> = ts.Session(g)
    local sq = ts.squeeze(x, 1, { name = "sq" })
    H.tensor(sess:run(sq, { [x] = { { 1, 2, 3 } } }), { 1, 2, 3 })
    H.fails(function() sess:run(sq, { [x] = t23() }) end,
      "squeeze 'sq': cannot squeeze axis 1 of size 2 in shape [2, 3]")
    local c = ts.concat({ x, u }, 1, { name = "cat" })
    H.tensor(sess:run(c, { [x] = { { 1, 2, 3 } }, [u] = { { 4, 5, 6 } } }), { { 1, 2, 3 }, { 4, 5, 6 } })
    H.fails(function() sess:run(c, { [x] = { { 1, 2, 3 } }, [u] = { { 4, 5 } } }) end,
      "concat 'cat': input 2 has shape [1, 2]")
  end)
end)
