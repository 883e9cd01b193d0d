local ts = require "tensorslow"
local H = require "helpers"

describe("graphs", function()
  it("has a default graph as soon as the module loads", function()
    assert.is_not_nil(ts.get_default_graph())
    assert.are.equal("Graph", tostring(ts.get_default_graph()):match("^Graph"))
  end)

  it("as_default switches the graph new nodes go to", function()
    local g = ts.Graph()
    g:as_default()
    assert.are.equal(g, ts.get_default_graph())
    local x = ts.placeholder()
    assert.are.equal(g, x.graph)
  end)

  it("lists operations, placeholders and variables in creation order", function()
    local g = ts.Graph():as_default()
    local x = ts.placeholder { name = "x" }
    local w = ts.Variable(2, { name = "w" })
    local y = x * w
    local z = y + 1
    local ops = g:operations()
    assert.are.equal(2, #ops)
    assert.are.equal(y, ops[1])
    assert.are.equal(z, ops[2])
    assert.are.same({ x }, g:placeholders())
    assert.are.same({ w }, g:variables())
    assert.are.equal(w, g:get("w"))
    assert.is_nil(g:get("nope"))
  end)
end)

describe("nodes", function()
  local g
  before_each(function() g = ts.Graph():as_default() end)

  it("get unique generated names", function()
    local a = ts.constant(1)
    local b = ts.constant(2)
    local c = a + b
    local d = a + b
    assert.are.equal("constant", a.name)
    assert.are.equal("constant_1", b.name)
    assert.are.equal("add", c.name)
    assert.are.equal("add_1", d.name)
    local e = ts.add(a, b, { name = "add" })
    assert.are.equal("add_2", e.name)
  end)

  it("expose op, inputs, consumers, graph, shape and dtype", function()
    local x = ts.placeholder { shape = { -1, 3 }, dtype = "float32", name = "x" }
    local W = ts.Variable(ts.zeros({ 3, 2 }, "float32"), { name = "W" })
    local y = x:matmul(W)
    assert.are.equal("matmul", y.op)
    assert.are.same({ x, W }, y.inputs)
    assert.are.same({ y }, x.consumers)
    assert.are.same({ -1, 2 }, y.shape)
    assert.are.equal("float32", y.dtype)
    assert.are.equal(g, y.graph)
    assert.are.equal("placeholder", x.op)
    assert.are.equal("Node(x: placeholder, shape=[?, 3], dtype=float32)", tostring(x))
  end)

  it("the same node is the same Lua object", function()
    local x = ts.placeholder()
    local y = -x
    assert.are.equal(x, y.inputs[1])
    assert.is_true(rawequal(x, y.inputs[1]))
  end)

  it("operators build add, subtract, multiply, divide, pow and negative", function()
    local x = ts.placeholder()
    assert.are.equal("add", (x + 1).op)
    assert.are.equal("add", (1 + x).op)
    assert.are.equal("subtract", (x - x).op)
    assert.are.equal("multiply", (x * 2).op)
    assert.are.equal("divide", (x / 2).op)
    assert.are.equal("pow", (x ^ 2).op)
    assert.are.equal("negative", (-x).op)
    assert.are.equal("add", x:add(1).op)
    assert.are.equal("matmul", ts.matmul(x, x).op)
  end)

  it("turns numbers, tables and tensors into constants of the graph", function()
    local x = ts.placeholder { dtype = "float32" }
    local y = x + { 1, 2 }
    local c = y.inputs[2]
    assert.are.equal("constant", c.op)
    assert.are.equal("float32", c.dtype)
    assert.are.same({ 2 }, c.shape)
    local z = ts.tensor { 1 } + ts.Variable(1)
    assert.are.equal("add", z.op)
  end)

  it("refuses to mix nodes of two graphs, naming both", function()
    local a = ts.constant(1, { name = "a" })
    local g2 = ts.Graph():as_default()
    local b = ts.constant(1, { name = "b" })
    H.fails(function() return a + b end, "input 2 ('b') belongs to another graph")
    assert.are.equal(g2, b.graph)
  end)

  it("checks known shapes at construction, naming op and shapes", function()
    local a = ts.constant { { 1, 2, 3 } }
    local b = ts.constant { { 1, 2 }, { 3, 4 } }
    H.fails(function() return a + b end, "add: shapes [1, 3] and [2, 2] cannot be broadcast together")
    H.fails(function() return ts.matmul(a, b, { name = "mm" }) end,
      "matmul 'mm': inner dimensions do not match: [1, 3] times [2, 2]")
  end)

  it("infers broadcast shapes with unknown dimensions", function()
    local x = ts.placeholder { shape = { -1, 3 } }
    assert.are.same({ -1, 3 }, (x + ts.constant { 1, 2, 3 }).shape)
    assert.are.same({ 4, -1, 3 }, (x + ts.zeros { 4, 1, 1 }).shape)
    local u = ts.placeholder()
    assert.is_nil((u + 1).shape)
  end)

  it("refuses float32 with float64 at construction", function()
    local x = ts.placeholder { dtype = "float32" }
    local y = ts.placeholder { dtype = "float64" }
    H.fails(function() return x * y end, "dtypes float32 and float64 do not match (use cast)")
  end)
end)

describe("variables and constants", function()
  before_each(function() ts.Graph():as_default() end)

  it("hold their value; value() copies and assign() replaces it", function()
    local v = ts.Variable({ 1, 2 }, { name = "v" })
    H.tensor(v:value(), { 1, 2 }, "float64")
    local copy = v:value()
    copy:set(1, 100)
    H.tensor(v:value(), { 1, 2 })
    v:assign { 5, 6 }
    H.tensor(v:value(), { 5, 6 })
    H.fails(function() v:assign { 1, 2, 3 } end,
      "cannot assign a value of shape [3] to variable 'v' of shape [2]")
  end)

  it("take a dtype option", function()
    local v = ts.Variable({ 1, 2 }, { dtype = "float32" })
    assert.are.equal("float32", v.dtype)
    assert.are.equal("int64", ts.constant({ 1 }, { dtype = "int64" }).dtype)
  end)

  it("refuse value() on other nodes and assign() on constants", function()
    local c = ts.constant(1, { name = "c" })
    H.fails(function() c:assign(2) end, "assign: 'c' is a constant, not a variable")
    H.fails(function() (c + 1):value() end, "only variables and constants hold a value")
  end)
end)
