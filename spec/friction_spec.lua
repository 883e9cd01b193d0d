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
    H.fails(function() ts.test.gradcheck(ts.square, { { 1, 2 } }, { tl = 1 }) end,
      "test.gradcheck: unknown option 'tl'")
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

describe("t[i] on a tensor", function()
  it("gives the i-th slice along the first axis, a view; a number in 1-D", function()
    local t = ts.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    H.tensor(t[1], { 1, 2, 3 })
    H.tensor(t[-1], { 4, 5, 6 })
    assert.are.equal(6, t[2][3])
    assert.are.equal(4, t[-1][-3])
    local row = t[2]
    row[1] = 40 -- writes through to t
    assert.are.equal(40, t:get(2, 1))
    local z = ts.zeros({ 3, 2, 2 }, "int64")
    assert.are.same({ 2, 2 }, z[3].shape)
    assert.are.equal("int64", z[3].dtype)
    assert.are.equal(math.tointeger(0), z[3][1][1])
    -- a slice of a view (reshape) and of a slice
    H.tensor(ts.arange(1, 7):reshape { 3, 2 }[3], { 5, 6 })
    assert.are.equal(8, ts.arange(1, 9):reshape { 2, 2, 2 }[2][2][2])
  end)

  it("t[i] = v assigns a number, a tensor or a table of the slice's shape", function()
    local t = ts.zeros { 3, 2 }
    t[1] = 7
    t[2] = { 1, 2 }
    t[-1] = ts.tensor({ 3, 4 }, "float32") -- converted to t's dtype
    H.tensor(t, { { 7, 7 }, { 1, 2 }, { 3, 4 } })
    local v = ts.zeros { 4 }
    v[2], v[-1] = 5, 6
    H.tensor(v, { 0, 5, 0, 6 })
    local i = ts.zeros({ 2 }, "int64")
    H.fails(function() i[1] = 1.5 end, "int64")
  end)

  it("range and shape errors name the index and the size", function()
    local t = ts.zeros { 2, 3 }
    H.fails(function() return t[3] end, "t[i]: index 3 is out of range for the first axis of size 2")
    H.fails(function() return t[0] end, "index 0 is out of range")
    H.fails(function() return t[-3] end, "index -3 is out of range")
    H.fails(function() t[5] = 1 end, "t[i] = v: index 5 is out of range for the first axis of size 2")
    H.fails(function() t[1] = { 1, 2 } end, "t[1] = v: v has shape [2], the slice has shape [3]")
    H.fails(function() t[1] = "x" end, "v must be a number, a tensor or a table, got string")
    H.fails(function() return ts.tensor(3)[1] end, "a scalar tensor (shape []) has no first axis")
    H.fails(function() return t[1.5] end, "1.5")
    H.fails(function() t.foo = 1 end, "cannot set field foo")
  end)

  it("methods and fields still work (string keys)", function()
    local t = ts.zeros { 2, 3 }
    assert.are.same({ 2, 3 }, t.shape)
    assert.are.equal("float64", t.dtype)
    assert.are.equal(6, t:numel())
    assert.are.equal(2, #t)
    assert.is_nil(t.nosuchmethod)
  end)

  it("a slice keeps its base alive", function()
    local row = ts.tensor { { 1, 2 }, { 3, 4 } }[2]
    collectgarbage()
    collectgarbage()
    H.tensor(row, { 3, 4 })
  end)
end)

describe("feeding by name", function()
  it("feeds a placeholder by its name in the session's graph", function()
    local g = ts.Graph()
    local x = ts.placeholder { name = "x", shape = { 2 }, graph = g }
    local w = ts.placeholder { name = "w", graph = g }
    local y = x * w
    local s = ts.Session(g)
    H.tensor(s:run(y, { x = { 1, 2 }, w = 3 }), { 3, 6 })
    H.tensor(s:run(y, { x = { 1, 2 }, [w] = 2 }), { 2, 4 }) -- names and nodes mixed
  end)

  it("an unknown name, a node that is no placeholder or a feed given twice is an error", function()
    local g = ts.Graph()
    local x = ts.placeholder { name = "x", graph = g }
    local y = ts.multiply(x, 2, { name = "y" })
    local s = ts.Session(g)
    H.fails(function() s:run(y, { z = 1 }) end,
      "run: cannot feed 'z': the session's graph has no node of that name")
    H.fails(function() s:run(y, { y = 1 }) end, "cannot feed 'y': it is a multiply, not a placeholder")
    H.fails(function() s:run(y, { x = 1, [x] = 1 }) end, "'x' is fed twice")
  end)
end)

describe("names TF users type", function()
  it("the activations are under ts.nn too", function()
    for _, n in ipairs { "relu", "sigmoid", "tanh", "softplus", "softsign", "elu", "gelu", "leaky_relu" } do
      assert.are.equal(ts[n], ts.nn[n], n)
    end
    H.tensor(ts.nn.relu(ts.tensor { -1, 2 }), { 0, 2 })
  end)

  it("random_normal, truncated_normal and random_uniform draw anew at every run", function()
    local g = ts.Graph()
    local r = ts.random_normal({ 2000 }, { mean = 3, stddev = 0.5, graph = g })
    local t = ts.truncated_normal({ 2000 }, { stddev = 2, graph = g, dtype = "float32" })
    local u = ts.random_uniform({ 2, 1000 }, { minval = -1, maxval = 4, graph = g })
    assert.are.same({ 2000 }, r.shape)
    assert.are.equal("float32", t.dtype)
    local s = ts.Session(g)
    local a, b = s:run(r), s:run(r)
    assert.are_not.equal(a:get(1), b:get(1))
    local mean = ts.reduce_mean(a):item()
    assert.is_true(math.abs(mean - 3) < 0.1, tostring(mean))
    local sd = math.sqrt(ts.reduce_mean((a - mean) ^ 2):item())
    assert.is_true(math.abs(sd - 0.5) < 0.05, tostring(sd))
    local tv = s:run(t)
    assert.is_true(ts.reduce_max(ts.abs(tv)):item() <= 4)
    local uv = s:run(u)
    assert.is_true(ts.reduce_min(uv):item() >= -1 and ts.reduce_max(uv):item() < 4)
    assert.is_true(ts.reduce_mean(uv):item() > 1 and ts.reduce_mean(uv):item() < 2)
    -- usable as any node
    assert.are.same({ 2000 }, s:run(r * 2 + ts.cast(t, "float64")).shape)
  end)

  it("draws are reproducible given ts.seed and the node's seed", function()
    local function draw()
      ts.seed(11)
      local g = ts.Graph()
      local r = ts.random_normal({ 4 }, { seed = 5, graph = g })
      local s = ts.Session(g)
      return s:run(r):totable(), s:run(r):totable()
    end
    local a1, a2 = draw()
    local b1, b2 = draw()
    assert.are.same(a1, b1)
    assert.are.same(a2, b2)
    assert.are_not.same(a1, a2)
  end)

  it("random ops check their arguments", function()
    H.fails(function() ts.random_normal({ 2 }, { stdev = 1 }) end, "random_normal: unknown option 'stdev'")
    H.fails(function() ts.random_normal({ -1 }) end, "dimension 1 of the shape is -1")
    H.fails(function() ts.random_uniform({ 2 }, { minval = 2, maxval = 1 }) end, "minval 2 is above maxval 1")
    H.fails(function() ts.truncated_normal({ 2 }, { dtype = "int64" }) end, "does not support dtype int64")
  end)

  it("global_variables_initializer re-assigns every variable its initial value", function()
    local g = ts.Graph()
    local w = ts.Variable({ 1, 2 }, { graph = g })
    local b = ts.Variable(3, { graph = g })
    local loss = ts.reduce_sum(w * w) + b * b
    local step = ts.train.AdamOptimizer(0.1):minimize(loss)
    local init = ts.global_variables_initializer(g)
    local s = ts.Session(g)
    H.tensor(s:run(w), { 1, 2 }) -- variables hold values at creation
    s:run(step)
    s:run(step)
    assert.are_not.equal(1, s:run(w):get(1))
    s:run(init)
    H.tensor(s:run(w), { 1, 2 })
    H.tensor(s:run(b), 3)
  end)
end)

describe("the README", function()
  local read = H.read_file

  it("the Learning block runs as printed and trains", function()
    local readme = read("README.md")
    local section = readme:match("\n## Learning[^\n]*\n(.-)\n## ")
    local code = section:match("```lua\n(.-)```")
    assert.truthy(code:find("local X", 1, true))
    local printed = {}
    local env = setmetatable({ print = function(v) printed[#printed + 1] = v end }, { __index = _G })
    local saved = ts.get_default_graph()
    local f = assert(load(code, "README Learning", "t", env))
    f()
    ts.set_default_graph(saved)
    assert.are.equal(1, #printed)
    assert.is_true(printed[1]:item() < 0.3, tostring(printed[1]))
  end)

  it("make env prints the two exports with absolute paths", function()
    local p = assert(io.popen("make -s env BUILD=build 2>&1"))
    local out = p:read("a")
    p:close()
    assert.truthy(out:find('export LUA_PATH="/[^"]*/lua/%?%.lua;'))
    assert.truthy(out:find('export LUA_CPATH="/[^"]*/build/%?%.so;;"'))
  end)
end)

describe("the Makefile", function()
  local function sh(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("a")
    p:close()
    return out
  end

  it("builds quietly (V=1: the command lines)", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out = sh(("make --no-print-directory BUILD=%s %s/obj/tensor.o"):format(dir, dir))
    assert.truthy(out:find("  CC      " .. dir .. "/obj/tensor.o", 1, true), out)
    assert.is_nil(out:find("-std=c11", 1, true), out)
    os.remove(dir .. "/obj/tensor.o")
    out = sh(("make --no-print-directory V=1 BUILD=%s %s/obj/tensor.o"):format(dir, dir))
    assert.truthy(out:find("-std=c11", 1, true), out)
    os.remove(dir .. "/obj/tensor.o")
    os.remove(dir .. "/obj")
    os.remove(dir)
  end)

  it("make example builds with -j and says it writes no checkpoint unless asked", function()
    local out = sh("make -n example JOBS=3")
    assert.truthy(out:find("-j3 all", 1, true), out)
    local mk = assert(io.open("Makefile")):read("a")
    local at = mk:find("\nRUN_LUA = ", 1, true)
    local comment = mk:sub(mk:find("# The main job", 1, true), at)
    assert.truthy(comment:find("no checkpoint unless", 1, true), comment)
    assert.is_nil(comment:find("saves fashion_mnist.safetensors", 1, true))
  end)
end)

describe("session methods called with a dot", function()
  it("name the method and say how to call it", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = {} }
    local s = ts.Session(g)
    local ok, err = pcall(function() return s.run(x) end)
    assert.is_false(ok)
    assert.truthy(err:find(
      "Session.run: call it as a method, sess:run(...) (argument 1 is a userdata, not a session)", 1, true),
      err)
    ok, err = pcall(function() return s.stats(3) end)
    assert.is_false(ok)
    assert.truthy(err:find("Session.stats: call it as a method, sess:stats(...) (argument 1 is a number",
      1, true), err)
    ok, err = pcall(s.close)
    assert.is_false(ok)
    assert.truthy(err:find("a Session method: call it with a colon", 1, true), err)
    assert.equal(2, s:run(x, { [x] = ts.tensor(2) }):item()) -- the session is unharmed
    s:close()
  end)
end)
