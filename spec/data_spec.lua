local ts = require "tensorslow"
local H = require "helpers"

-- Row i (1-based) of X holds {2i-2, 2i-1}; y holds the row's 0-based index.
local function data(n)
  return ts.arange(2 * n, "uint8"):reshape(n, 2), ts.arange(n, "int64")
end

local function collect(iter)
  local out = {}
  for x, y in iter do out[#out + 1] = { x = x:totable(), y = y and y:totable(), xt = x, yt = y } end
  return out
end

local function order(n, opts)
  local _, y = data(n)
  local seen = {}
  for b in ts.data.batches(y, 3, opts) do
    for _, v in ipairs(b:totable()) do seen[#seen + 1] = v end
  end
  return seen
end

describe("ts.data.batches", function()
  teardown(function() ts.seed(0) end) -- the seed a fresh state starts with
  it("walks the rows in order, with a short last batch", function()
    local x = data(5)
    local bs = collect(ts.data.batches(x, 2))
    assert.equal(3, #bs)
    assert.same({ { 0, 1 }, { 2, 3 } }, bs[1].x)
    assert.same({ { 4, 5 }, { 6, 7 } }, bs[2].x)
    assert.same({ { 8, 9 } }, bs[3].x)
    assert.same({ 1, 2 }, bs[3].xt.shape)
    assert.equal("uint8", bs[1].xt.dtype)
  end)

  it("drops a short last batch when asked", function()
    local x = data(5)
    local bs = collect(ts.data.batches(x, 2, { drop_last = true }))
    assert.equal(2, #bs)
    assert.same({ { 4, 5 }, { 6, 7 } }, bs[2].x)
    assert.equal(1, #collect(ts.data.batches(x, 5, { drop_last = true })))
    assert.equal(0, #collect(ts.data.batches(x, 6, { drop_last = true })))
    local one = collect(ts.data.batches(x, 6))
    assert.equal(1, #one)
    assert.same({ 5, 2 }, one[1].xt.shape)
  end)

  it("yields the same tensor objects at every step", function()
    local x, y = data(7)
    local bs = collect(ts.data.batches({ x, y }, 3))
    assert.equal(3, #bs)
    assert.is_true(rawequal(bs[1].xt, bs[2].xt) and rawequal(bs[2].xt, bs[3].xt))
    assert.is_true(rawequal(bs[1].yt, bs[3].yt))
    assert.is_false(rawequal(bs[1].xt, bs[1].yt))
    assert.same({ 1, 2 }, bs[3].xt.shape) -- resized in place for the last batch
    assert.same({ 1 }, bs[3].yt.shape)
    assert.same({ 6 }, bs[3].y)
  end)

  it("keeps the tensors of an array aligned, shuffled or not", function()
    local x, y = data(10)
    for _, opts in ipairs { {}, { shuffle = true, seed = 3 } } do
      local seen = {}
      for xb, yb in ts.data.batches({ x, y }, 4, opts) do
        for i = 1, #yb do
          local r = yb:get(i)
          assert.same({ 2 * r, 2 * r + 1 }, { xb:get(i, 1), xb:get(i, 2) })
          seen[#seen + 1] = r
        end
      end
      table.sort(seen)
      assert.same(ts.arange(10, "int64"):totable(), seen)
    end
  end)

  it("shuffles deterministically by seed, independently of ts.seed", function()
    ts.seed(1)
    local a = order(50, { shuffle = true, seed = 42 })
    ts.seed(2)
    local b = order(50, { shuffle = true, seed = 42 })
    assert.same(a, b)
    local c = order(50, { shuffle = true, seed = 43 })
    assert.are_not.same(a, c)
    assert.are_not.same(order(50), a)
    local sorted = { table.unpack(a) }
    table.sort(sorted)
    assert.same(order(50), sorted)
  end)

  it("takes an unseeded shuffle from ts.seed's generator", function()
    ts.seed(5)
    local a = order(30, { shuffle = true })
    ts.seed(5)
    assert.same(a, order(30, { shuffle = true }))
  end)

  it("converts uint8 batch by batch to a float dtype with a scale", function()
    local x, y = data(3)
    local bs = collect(ts.data.batches({ x, y }, 2, { dtype = "float32", scale = 1 / 255 }))
    assert.equal("float32", bs[1].xt.dtype)
    assert.equal("int64", bs[1].yt.dtype) -- dtype and scale apply to the first tensor
    H.close({ { 0, 1 / 255 }, { 2 / 255, 3 / 255 } }, bs[1].x, 1e-7)
    H.close({ { 4 / 255, 5 / 255 } }, bs[2].x, 1e-7)
    local f64 = collect(ts.data.batches(x, 3, { dtype = "float64" }))
    H.tensor(f64[1].xt, { { 0, 1 }, { 2, 3 }, { 4, 5 } }, "float64")
    local sc = collect(ts.data.batches(x, 3, { scale = 0.5 }))
    H.tensor(sc[1].xt, { { 0, 0.5 }, { 1, 1.5 }, { 2, 2.5 } }, "float32")
    -- per tensor
    local per = collect(ts.data.batches({ x, y }, 3, { dtype = { false, "float64" } }))
    assert.equal("uint8", per[1].xt.dtype)
    H.tensor(per[1].yt, { 0, 1, 2 }, "float64")
  end)

  it("checks its arguments", function()
    local x, y = data(4)
    H.fails(function() ts.data.batches(x, 0) end, "batch_size must be a positive integer")
    H.fails(function() ts.data.batches(x, 1.5) end, "batch_size must be a positive integer")
    H.fails(function() ts.data.batches({ x, ts.zeros({ 3 }) }, 2) end, "tensor 2 has 3 rows, tensor 1 has 4")
    H.fails(function() ts.data.batches({ x, 5 }, 2) end, "entry 2 is not a tensor")
    H.fails(function() ts.data.batches({}, 2) end, "expected a tensor or an array")
    H.fails(function() ts.data.batches(ts.tensor(1), 2) end, "scalar")
    H.fails(function() ts.data.batches(y, 2, { dtype = "int64", scale = 2 }) end, "scale needs a float dtype")
  end)
end)
