local ts = require "tensorslow"

describe("ts.dot", function()
  local g, x, W, b, y
  before_each(function()
    g = ts.Graph():as_default()
    x = ts.placeholder { name = "x", shape = { -1, 2 } }
    W = ts.Variable(ts.zeros { 2, 3 }, { name = "dense/kernel" })
    b = ts.Variable(ts.zeros { 3 }, { name = "dense/bias" })
    y = x:matmul(W) + b
  end)

  it("labels nodes with name, op, shape and dtype and draws edges", function()
    local dot = ts.dot(g)
    assert.truthy(dot:match("^digraph tensorslow {"))
    assert.truthy(dot:find('label="x\\nplaceholder [?, 2] float64"', 1, true))
    assert.truthy(dot:find('label="matmul\\nmatmul [?, 3] float64"', 1, true))
    -- x -> matmul, kernel -> matmul, matmul -> add, bias -> add
    local edges = 0
    for _ in dot:gmatch("n%d+ %-> n%d+;") do edges = edges + 1 end
    assert.are.equal(4, edges)
  end)

  it("draws sources distinctly and groups names by prefix", function()
    local dot = ts.dot(y)
    assert.truthy(dot:find("fillcolor=\"#cfe8ff\"", 1, true)) -- placeholder
    assert.truthy(dot:find("fillcolor=\"#ffe7b3\"", 1, true)) -- variable
    assert.truthy(dot:find('subgraph cluster_%d+ {%s+label="dense"'))
  end)

  it("draws only what a node depends on", function()
    local other = ts.constant(5, { name = "unrelated" }) + 1
    assert.is_nil(ts.dot(y):find("unrelated", 1, true))
    assert.truthy(ts.dot(other):find("unrelated", 1, true))
  end)

  it("write_dot writes the same text to a file", function()
    local path = os.tmpname()
    g:write_dot(path)
    local f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.are.equal(ts.dot(g), text)
  end)
end)

describe("ts.summary", function()
  it("lists variables with shapes, dtypes and parameter counts", function()
    local g = ts.Graph():as_default()
    ts.Variable(ts.zeros { 784, 256 }, { name = "h/kernel" })
    ts.Variable(ts.zeros({ 256 }, "float32"), { name = "h/bias" })
    local text, total = ts.summary(g)
    assert.are.equal(784 * 256 + 256, total)
    assert.truthy(text:find("h/kernel%s+%[784, 256%]%s+float64%s+200704"))
    assert.truthy(text:find("h/bias%s+%[256%]%s+float32%s+256"))
    assert.truthy(text:find("total%s+200960"))
  end)
end)
