-- Issue 17, "Friction seen in the first hour": each item as a newcomer met it.
local ts = require "tensorslow"
local H = require "helpers"

describe("typos in option tables", function()
  it("sources reject an unknown key, naming it and the function", function()
    H.fails(function() ts.placeholder { shap = { 2 } } end, "placeholder: unknown option 'shap'")
    H.fails(function() ts.Variable(1, { nmae = "w" }) end, "Variable: unknown option 'nmae'")
    H.fails(function() ts.constant(1, { dtpye = "float32" }) end, "constant: unknown option 'dtpye'")
    -- the known ones still work
    local g = ts.Graph()
    local p = ts.placeholder { shape = { 2 }, dtype = "float32", name = "p", graph = g }
    assert.are.same({ 2 }, p.shape)
    assert.are.equal("w", ts.Variable(1, { name = "w", dtype = "float32", graph = g }).name)
  end)

  it("Variable{shape = ...} is not a shape-[0] variable", function()
    local err = H.fails(function() ts.Variable { shape = { 2, 2 } } end, "Variable(value")
    assert.truthy(err:find("'shape'", 1, true))
    assert.truthy(err:find("friction_spec", 1, true)) -- at the caller's line
    H.fails(function() ts.constant { value = 1 } end, "constant(value")
  end)

  it("positional misuse of placeholder says what it takes", function()
    H.fails(function() ts.placeholder("float32", { -1, 784 }) end,
      'placeholder takes one options table, placeholder{dtype = "float32", shape = {-1, 784}')
  end)

  it("ops reject an unknown key", function()
    local x = ts.placeholder { shape = { 2, 2 } }
    H.fails(function() ts.relu(x, { nmae = "r" }) end, "relu: unknown option 'nmae'")
    H.fails(function() ts.add(x, x, { nmae = "a" }) end, "add: unknown option 'nmae'")
    H.fails(function() ts.reduce_sum(x, { axsi = 1 }) end, "reduce_sum: unknown option 'axsi'")
    H.fails(function() ts.matmul(x, x, { transpose = true }) end, "matmul: unknown option 'transpose'")
    H.fails(function() ts.reshape(x, { 4 }, { nam = "r" }) end, "reshape: unknown option 'nam'")
    H.fails(function() ts.nn.softmax(x, { axes = 1 }) end, "softmax: unknown option 'axes'")
    H.fails(function() ts.nn.dropout(x, 0.5, { trainig = true }) end, "dropout: unknown option 'trainig'")
    H.fails(function() ts.leaky_relu(x, { alhpa = 0.1 }) end, "leaky_relu: unknown option 'alhpa'")
    local img = ts.placeholder { shape = { 1, 4, 4, 1 } }
    local k = ts.placeholder { shape = { 2, 2, 1, 1 } }
    H.fails(function() ts.nn.conv2d(img, k, { stride = 1 }) end, "conv2d: unknown option 'stride'")
    H.fails(function() ts.nn.max_pool2d(img, { ksize = 2, stirdes = 2 }) end,
      "max_pool2d: unknown option 'stirdes'")
    -- known ones still work
    assert.are.same({ 2 }, ts.reduce_sum(x, { axis = 1, name = "s" }).shape)
    assert.are.same({ 2, 2 }, ts.matmul(x, x, { transpose_a = true }).shape)
  end)

  it("layers, optimizers, initializers and data reject an unknown key", function()
    local x = ts.placeholder { shape = { 2, 3 } }
    H.fails(function() ts.layers.dense(x, 4, { activaton = ts.relu }) end,
      "dense: unknown option 'activaton'")
    H.fails(function() ts.layers.dropout(x, { rat = 0.1 }) end, "dropout: unknown option 'rat'")
    H.fails(function() ts.layers.batch_normalization(x, { momentun = 0.9 }) end,
      "batch_normalization: unknown option 'momentun'")
    local img = ts.placeholder { shape = { 1, 4, 4, 1 } }
    H.fails(function() ts.layers.conv2d(img, 2, 3, { paddding = "same" }) end,
      "conv2d: unknown option 'paddding'")
    H.fails(function() ts.train.AdamOptimizer(0.1, { bta1 = 0.8 }) end,
      "AdamOptimizer: unknown option 'bta1'")
    H.fails(function() ts.train.GradientDescentOptimizer { learning_rate = 0.1, momentum = 0.9 } end,
      "GradientDescentOptimizer: unknown option 'momentum'")
    H.fails(function() ts.train.MomentumOptimizer(0.1, 0.9, { nesterov = true }) end,
      "MomentumOptimizer: unknown option 'nesterov'")
    H.fails(function() ts.initializers.random_normal { stdev = 2 } end,
      "initializers.random_normal: unknown option 'stdev'")
    H.fails(function() ts.initializers.zeros({ 2 }, { dtyp = "float32" }) end,
      "initializers.zeros: unknown option 'dtyp'")
    H.fails(function() ts.data.batches(ts.zeros { 4, 2 }, 2, { shufle = true }) end,
      "batches: unknown option 'shufle'")
    H.fails(function() ts.train.Saver { var_list = {} } end, "Saver(var_list)")
    assert.are.equal("float32", ts.initializers.random_normal({ 2 }, { dtype = "float32", stddev = 2 }).dtype)
  end)
end)

describe("errors that name the op", function()
  it("axis 0 names the function and the 1-based convention", function()
    H.fails(function() ts.reduce_mean(ts.tensor { 1, 2 }, 0) end,
      "reduce_mean: axis 0 is not valid (axes are 1-based")
  end)

  it("a dot for a colon says how to call the method", function()
    local g = ts.Graph()
    local w = ts.Variable(1, { graph = g })
    for _, opt in ipairs { ts.train.GradientDescentOptimizer(0.1), ts.train.AdamOptimizer(0.1),
                           ts.train.MomentumOptimizer(0.1, 0.9), ts.train.RMSPropOptimizer(0.1),
                           ts.train.AdagradOptimizer(0.1), ts.train.AdamWOptimizer(0.1) } do
      H.fails(function() opt.minimize(w * w) end, "opt:minimize(...)")
      H.fails(function() opt.compute_gradients(w * w) end, "opt:compute_gradients(...)")
      H.fails(function() opt.apply_gradients({}) end, "opt:apply_gradients(...)")
    end
    local saver = ts.train.Saver()
    H.fails(function() saver.save(ts.Session(g), "x") end, "saver:save(...)")
    H.fails(function() saver.restore(ts.Session(g), "x") end, "saver:restore(...)")
    local scope = ts.name_scope("s")
    H.fails(function() scope.close() end, "scope:close()")
    scope:close()
  end)
end)

describe("layers take activation names", function()
  it("dense and conv2d accept Keras's names", function()
    local x = ts.placeholder { shape = { 2, 3 } }
    for _, name in ipairs { "relu", "sigmoid", "tanh", "softmax", "elu", "softplus", "softsign", "gelu" } do
      assert.are.equal(name, ts.layers.dense(x, 4, { activation = name }).op)
    end
    assert.are.equal("add", ts.layers.dense(x, 4, { activation = "linear" }).op)
    local img = ts.placeholder { shape = { 1, 4, 4, 1 } }
    assert.are.equal("relu", ts.layers.conv2d(img, 2, 3, { activation = "relu" }).op)
  end)

  it("an unknown name is an error listing the names", function()
    local x = ts.placeholder { shape = { 2, 3 } }
    local err = H.fails(function() ts.layers.dense(x, 4, { activation = "rleu" }) end,
      'dense: activation must be a function or one of "elu", "gelu", "linear", "relu"')
    assert.truthy(err:find('got "rleu"', 1, true))
    local img = ts.placeholder { shape = { 1, 4, 4, 1 } }
    H.fails(function() ts.layers.conv2d(img, 2, 3, { activation = 3 }) end,
      "conv2d: activation must be a function")
  end)

  it("the named activation computes the same as the function", function()
    local g = ts.Graph()
    local x = ts.placeholder { shape = { 2, 3 }, graph = g }
    ts.seed(7)
    local a = ts.layers.dense(x, 4, { activation = "tanh", name = "a" })
    local k = g:get("a/kernel")
    local b = ts.tanh(ts.matmul(x, k) + g:get("a/bias"))
    local sess = ts.Session(g)
    local xv = ts.tensor { { 1, 2, 3 }, { -1, 0, 1 } }
    H.tensor(sess:run(a, { [x] = xv }), sess:run(b, { [x] = xv }):totable())
  end)
end)
