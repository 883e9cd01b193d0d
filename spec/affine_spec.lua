local ts = require "tensorslow"
local H = require "helpers"

describe("the tutorial's affine graph", function()
  it("computes A x + b = [2, -1]", function()
    local g = ts.Graph()
    g:as_default()
    local A = ts.Variable { { 1, 0 }, { 0, -1 } }
    local b = ts.Variable { 1, 1 }
    local x = ts.placeholder { name = "x" }
    local y = ts.matmul(A, x)
    local z = y + b
    local sess <close> = ts.Session()
    local r = sess:run(z, { [x] = { 1, 2 } })
    assert.are.same({ 2 }, r.shape)
    H.tensor(r, { 2, -1 }, "float64", 0)
  end)
end)
