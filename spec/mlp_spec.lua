local ts = require "tensorslow"
local H = require "helpers"

local ref = dofile("spec/fixtures/tensorslow_mlp.lua")

-- Relative agreement (the helpers' close is relative above 1, absolute below).
local function rel(expected, actual, tol, path)
  if type(expected) == "table" then
    assert.equal(#expected, #actual, path)
    for i = 1, #expected do rel(expected[i], actual[i], tol, path .. "[" .. i .. "]") end
    return
  end
  local err = math.abs(expected - actual) / math.abs(expected)
  if err > tol or err ~= err then
    error(("%s: expected %.17g, got %.17g (relative error %.3g)"):format(path, expected, actual, err), 2)
  end
end

describe("the tutorial's multi-layer perceptron", function()
  it("reproduces every recorded number of the reference run to 1e-9 relative", function()
    local g = ts.Graph()
    local X = ts.placeholder { graph = g, shape = { -1, 2 } }
    local c = ts.placeholder { graph = g, shape = { -1, 2 } }
    local vars = {}
    for _, name in ipairs { "W_hidden", "b_hidden", "W_output", "b_output" } do
      vars[name] = ts.Variable(ref.initial[name], { graph = g, name = name, dtype = "float64" })
    end
    local hidden = ts.sigmoid(ts.matmul(X, vars.W_hidden) + vars.b_hidden)
    local p = ts.softmax(ts.matmul(hidden, vars.W_output) + vars.b_output)
    local J = -ts.reduce_sum(ts.reduce_sum(c * ts.log(p), 2))
    local step = ts.train.GradientDescentOptimizer(ref.learning_rate):minimize(J)
    assert.equal(4, #ts.trainable_variables(g))

    local feed = { [X] = ref.X, [c] = ref.c }
    local sess <close> = ts.Session(g)
    local losses = {}
    for i = 1, ref.steps do losses[i] = sess:run({ J, step }, feed)[1]:item() end
    assert.equal(#ref.loss_all, #losses)
    rel(ref.loss_all, losses, 1e-9, "loss_all")
    for k, v in pairs(ref.losses_every_100) do rel(v, losses[tonumber(k) + 1], 1e-9, "losses_every_100") end
    rel(ref.loss_after_last_update, sess:run(J, feed):item(), 1e-9, "loss_after_last_update")
    for name, v in pairs(vars) do rel(ref.final[name], v:value():totable(), 1e-9, "final." .. name) end
  end)
end)

describe("the examples", function()
  -- Runs an example file with print captured; restores the default graph.
  local function run_example(path)
    local out, saved_print, saved_arg = {}, _G.print, _G.arg
    local graph = ts.get_default_graph()
    _G.print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, "\t")
    end
    _G.arg = { [0] = path }
    local ok, err = pcall(dofile, path)
    _G.print, _G.arg = saved_print, saved_arg
    graph:as_default()
    assert(ok, err)
    return table.concat(out, "\n")
  end

  it("mlp.lua prints the reference's losses", function()
    local out = run_example("examples/mlp.lua")
    for _, step in ipairs { 0, 100, 500, 900 } do
      local want = ("Step: %4d Loss: %.10f"):format(step, ref.losses_every_100[step])
      assert(out:find(want, 1, true), "missing line: " .. want)
    end
    assert.truthy(out:find("W_hidden =", 1, true))
  end)

  it("perceptron.lua trains to a small loss", function()
    local out = run_example("examples/perceptron.lua")
    local last = tonumber(out:match("Step:  900 Loss: (%S+)"))
    assert(last and last < 1, "no small final loss in: " .. out)
    assert.truthy(out:find("W =", 1, true))
  end)
end)

describe("ts.layers.dense", function()
  it("creates <name>/kernel and <name>/bias, unique per layer", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 3 } }
    local y = ts.layers.dense(x, 4, { name = "fc" })
    local z = ts.layers.dense(y, 2, { name = "fc", activation = ts.relu })
    assert.same({ -1, 2 }, z.shape)
    assert.same({ 3, 4 }, g:get("fc/kernel").shape)
    H.tensor(g:get("fc/bias"):value(), { 0, 0, 0, 0 })
    assert.same({ 4, 2 }, g:get("fc_1/kernel").shape)
    local limit = math.sqrt(6 / 7)
    for _, row in ipairs(g:get("fc/kernel"):value():totable()) do
      for _, w in ipairs(row) do assert(math.abs(w) <= limit) end
    end
    H.fails(function() ts.layers.dense(ts.placeholder { graph = g }, 2) end, "last dimension")
  end)

  it("a 2-16-2 network separates the XOR clusters to 100% training accuracy", function()
    ts.seed(2)
    local g = ts.Graph()
    local X = ts.placeholder { graph = g, shape = { -1, 2 } }
    local c = ts.placeholder { graph = g, shape = { -1, 2 } }
    local hidden = ts.layers.dense(X, 16, { activation = ts.tanh, name = "hidden" })
    local logits = ts.layers.dense(hidden, 2, { name = "output" })
    local loss = ts.reduce_mean(ts.softmax_cross_entropy_with_logits { labels = c, logits = logits })
    local step = ts.train.AdamOptimizer { learning_rate = 0.05 }:minimize(loss)
    local sess <close> = ts.Session(g)
    local feed = { [X] = ref.X, [c] = ref.c }
    local first
    for i = 1, 300 do
      local l = sess:run({ loss, step }, feed)[1]:item()
      first = first or l
      if i == 300 then assert(l < first / 10, ("loss %g did not fall from %g"):format(l, first)) end
    end
    local out = sess:run(logits, feed):totable()
    local right = 0
    for i, row in ipairs(out) do
      local guess = row[1] > row[2] and 1 or 2
      if ref.c[i][guess] == 1 then right = right + 1 end
    end
    assert.equal(#ref.X, right)
  end)
end)
