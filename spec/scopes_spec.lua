-- Scopes: ts.name_scope prefixes node names; ts.variable_scope with
-- ts.get_variable shares weights (TF1), with errors that say what to change.
local ts = require "tensorslow"
local H = require "helpers"

local function fresh() return ts.Graph():as_default() end

describe("name_scope", function()
  it("prefixes every kind of node made inside, nested scopes add up", function()
    local g = fresh()
    local x = ts.placeholder { shape = { 2 }, name = "x" }
    local r1, r2 = ts.name_scope("block1", function(scope)
      assert.equal("block1", scope.name)
      local p = ts.placeholder { shape = { 2 } }
      local v = ts.Variable({ 1, 2 }, { name = "w" })
      local c = ts.constant(3)
      local y = x * v + c
      local z = ts.name_scope("inner", function()
        return ts.Operation { type = "twice", inputs = { y }, compute = function(t) return t * 2 end }
      end)
      return { p, v, c, y, ts.reduce_sum(y, { name = "total" }) }, z
    end)
    assert.equal("block1/placeholder", r1[1].name)
    assert.equal("block1/w", r1[2].name)
    assert.equal("block1/constant", r1[3].name)
    assert.equal("block1/add", r1[4].name)
    assert.equal("block1/total", r1[5].name)
    assert.equal("block1/inner/twice", r2.name)
    -- outside again
    assert.equal("constant", ts.constant(1).name)
    assert.equal("x", x.name)
    local sess <close> = ts.Session(g)
    H.tensor(sess:run(r2, { [x] = { 1, 1 } }), { 8, 10 })
  end)

  it("a second entry of the same name gets _1 (TF1); 'a/' re-enters a; '' is the top level", function()
    fresh()
    local a = ts.name_scope("a", function(s) return s.name, ts.constant(1).name end)
    local b, bn = ts.name_scope("a", function(s) return s.name, ts.constant(1).name end)
    assert.equal("a", a)
    assert.equal("a_1", b)
    assert.equal("a_1/constant", bn)
    assert.equal("a/constant_1", ts.name_scope("a/", function() return ts.constant(1).name end))
    ts.name_scope("outer", function()
      assert.equal("constant", ts.name_scope("", function() return ts.constant(1).name end))
      assert.equal("outer/inner/constant", ts.name_scope("inner", function() return ts.constant(1).name end))
    end)
  end)

  it("as a <close> scope object; closes when the function raises", function()
    fresh()
    do
      local s <close> = ts.name_scope("block")
      assert.equal("block/constant", ts.constant(1).name)
      assert.equal('name_scope("block")', tostring(s))
    end
    assert.equal("constant", ts.constant(1).name)
    local ok = pcall(ts.name_scope, "bad", function() error("boom") end)
    assert.is_false(ok)
    assert.equal("constant_1", ts.constant(1).name)
    -- a scope left open inside the function form is closed with it
    ts.name_scope("f", function() ts.name_scope("left_open") end)
    assert.equal("constant_2", ts.constant(1).name)
    -- closing twice does nothing; out of order is an error
    local outer = ts.name_scope("o")
    local inner = ts.name_scope("i")
    H.fails(function() outer:close() end,
      "name_scope: cannot close 'o' while the scope 'o/i' inside it is open (close the innermost first)")
    inner:close()
    inner:close()
    outer:close()
    assert.equal("constant_3", ts.constant(1).name)
  end)

  it("layers inside: <scope>/dense/kernel, then dense_1; gradients and steps under it", function()
    local g = fresh()
    local x = ts.placeholder { shape = { -1, 3 } }
    local y = ts.name_scope("block", function()
      local h = ts.layers.dense(x, 4)
      return ts.layers.dense(h, 2)
    end)
    assert.truthy(g:get("block/dense/kernel"))
    assert.truthy(g:get("block/dense_1/kernel"))
    assert.truthy(g:get("block/dense_1/bias"))
    -- a dense layer outside is "dense" again
    ts.layers.dense(x, 1)
    assert.truthy(g:get("dense/kernel"))
    -- optimizer slots and the global step keep their own names inside a scope
    ts.name_scope("training", function()
      ts.train.get_or_create_global_step()
      local step = ts.train.AdamOptimizer(0.1):minimize(ts.reduce_sum(y))
      assert.equal("training/Adam", step.name)
    end)
    assert.truthy(g:get("block/dense/kernel/Adam"))
    assert.truthy(g:get("global_step"))
  end)

  it("errors name the function and the value", function()
    H.fails(function() ts.name_scope(3, function() end) end,
      "name_scope: the name must be a string, got number")
    H.fails(function() ts.name_scope("a", 3) end,
      "name_scope: the second argument must be a function, got number")
  end)
end)

describe("variable_scope and get_variable", function()
  it("create <scope>/name, then share it with reuse = true", function()
    local g = fresh()
    local x1 = ts.placeholder { shape = { -1, 2 } }
    local x2 = ts.placeholder { shape = { -1, 2 } }
    local function tower(x)
      local w = ts.get_variable("w", { 2, 3 }, { initializer = ts.initializers.ones })
      local b = ts.get_variable("b", { 3 }, { initializer = 0.5 })
      return ts.matmul(x, w) + b, w
    end
    local y1, w1 = ts.variable_scope("tower", function() return tower(x1) end)
    local y2, w2 = ts.variable_scope("tower", { reuse = true }, function() return tower(x2) end)
    assert.equal(w1, w2)
    assert.equal("tower/w", w1.name)
    assert.equal("tower/add", y1.name)
    assert.equal("tower_1/add", y2.name) -- ops of the second entry in their own name scope
    assert.same({ 2, 3 }, w1.shape)
    assert.equal(2, #ts.trainable_variables(g))
    H.tensor(g:get("tower/b"):value(), { 0.5, 0.5, 0.5 })
    -- the shared weight gets both towers' gradients
    local gr = ts.gradients(ts.reduce_sum(y1) + ts.reduce_sum(y2), { w1 })
    local sess <close> = ts.Session(g)
    local r = sess:run(gr[1], { [x1] = { { 1, 2 } }, [x2] = { { 10, 20 } } })
    H.tensor(r, { { 11, 11, 11 }, { 22, 22, 22 } })
  end)

  it("the errors TF1 users wished for", function()
    fresh()
    ts.variable_scope("block1", function() ts.get_variable("w", { 2 }) end)
    H.fails(function() ts.variable_scope("block1", function() ts.get_variable("w", { 2 }) end) end,
      "get_variable: Variable block1/w already exists: pass reuse = true to share it")
    H.fails(function()
      ts.variable_scope("block1", { reuse = true }, function() ts.get_variable("v", { 2 }) end)
    end, "get_variable: Variable block1/v does not exist: reuse = true only shares variables made before")
    H.fails(function()
      ts.variable_scope("block1", { reuse = true }, function() ts.get_variable("w", { 3 }) end)
    end, "get_variable: Variable block1/w has shape [2], asked for [3]")
    H.fails(function()
      ts.variable_scope("block1", { reuse = true }, function()
        ts.get_variable("w", { 2 }, { dtype = "float32" })
      end)
    end, "get_variable: Variable block1/w has dtype float64, asked for float32")
    -- the error points at the caller's line
    local ok, err = pcall(function()
      ts.variable_scope("block1", function()
        ts.get_variable("w", { 2 })
      end)
    end)
    assert.is_false(ok)
    assert.truthy(err:find("scopes_spec.lua:%d+: get_variable"), err)
  end)

  it("reuse = \"auto\" creates what is missing; reuse is inherited by nested scopes", function()
    local g = fresh()
    local a1 = ts.variable_scope("m", { reuse = "auto" }, function() return ts.get_variable("w", { 1 }) end)
    local a2 = ts.variable_scope("m", { reuse = "auto" }, function() return ts.get_variable("w", { 1 }) end)
    assert.equal(a1, a2)
    local inner = ts.variable_scope("outer", function()
      return ts.variable_scope("inner", function() return ts.get_variable("w", { 1 }) end)
    end)
    assert.equal("outer/inner/w", inner.name)
    local again = ts.variable_scope("outer", { reuse = true }, function()
      return ts.variable_scope("inner", { reuse = false }, function(s)
        assert.is_true(s.reuse)
        return ts.get_variable("w")
      end)
    end)
    assert.equal(inner, again)
    -- a name scope inside a variable scope prefixes ops, not get_variable
    local v, op = ts.variable_scope("vs", function()
      return ts.name_scope("ns", function()
        local w = ts.get_variable("w", { 1 })
        return w, w * 2
      end)
    end)
    assert.equal("vs/w", v.name)
    assert.equal("vs/ns/multiply", op.name)
    assert.truthy(g)
  end)

  it("as a <close> scope object", function()
    fresh()
    do
      local s <close> = ts.variable_scope("enc", { reuse = "auto" })
      assert.equal("enc", s.name)
      assert.equal("enc/w", ts.get_variable("w", { 2 }).name)
    end
    assert.equal("w", ts.get_variable("w", { 2 }).name)
  end)

  it("initializers (a function, a value, a number, the scope's default), dtype, trainable, regularizer",
    function()
    local g = fresh()
    ts.seed(5)
    local a = ts.get_variable("a", { 3, 4 }) -- glorot_uniform by default: |a| <= sqrt(6 / 7)
    for _, row in ipairs(a:value():totable()) do
      for _, x in ipairs(row) do assert.is_true(math.abs(x) <= math.sqrt(6 / 7)) end
    end
    H.tensor(ts.get_variable("b", nil, { initializer = ts.tensor { 1, 2 } }):value(), { 1, 2 })
    H.tensor(ts.get_variable("c", { 2 }, { initializer = ts.tensor { 1, 2 } }):value(), { 1, 2 })
    H.tensor(ts.get_variable("d", { 2, 1 }, { initializer = 7, dtype = "float32" }):value(), { { 7 }, { 7 } },
      "float32")
    local e = ts.variable_scope("s", { initializer = ts.initializers.constant { value = 3 } }, function()
      return ts.get_variable("e", { 2 })
    end)
    H.tensor(e:value(), { 3, 3 })
    local f = ts.get_variable("f", {}, { trainable = false, initializer = 1 })
    H.tensor(f:value(), 1)
    for _, v in ipairs(ts.trainable_variables(g)) do assert.are_not.equal(f, v) end
    local r = ts.get_variable("r", { 2 }, { initializer = ts.tensor { 3, 4 },
                                            regularizer = ts.regularizers.l2(2) })
    assert.equal(r.graph, g)
    H.tensor(ts.Session(g):run(ts.losses.get_regularization_loss(g)), 2 * 25 / 2)
  end)

  it("errors name the function and the value", function()
    local g = fresh()
    ts.placeholder { name = "p" }
    H.fails(function() ts.get_variable("p", { 1 }) end, "get_variable: 'p' is a placeholder, not a variable")
    H.fails(function() ts.get_variable("q") end,
      "get_variable: creating q needs a shape (or a value as initializer)")
    H.fails(function() ts.get_variable("q", { 2, -1 }) end,
      "get_variable: dimension 2 of the shape is -1; variables need known sizes")
    H.fails(function() ts.get_variable("q", { 3 }, { initializer = ts.tensor { 1, 2 } }) end,
      "get_variable: the initializer of q has shape [2], the shape asked is [3]")
    H.fails(function() ts.get_variable("q", { 1 }, { intializer = 1 }) end,
      "get_variable: unknown option 'intializer' (options are dtype, graph, initializer, regularizer, "
      .. "trainable)")
    H.fails(function() ts.get_variable(3, { 1 }) end,
      "get_variable: the name must be a non-empty string, got number")
    H.fails(function() ts.variable_scope("v", { reuse = "yes" }, function() end) end,
      "variable_scope: reuse must be true, false or \"auto\", got yes")
    H.fails(function() ts.variable_scope("v", { resue = true }) end,
      "variable_scope: unknown option 'resue' (options are initializer, reuse)")
    H.fails(function() ts.variable_scope("", function() end) end,
      "variable_scope: the name must be non-empty and not begin or end with '/', got \"\"")
    assert.is_nil(g:get("q"))
  end)
end)
