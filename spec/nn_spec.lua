local ts = require "tensorslow"
local H = require "helpers"
local both = H.both

local FLOATS = H.FLOATS
local exp, log = math.exp, math.log
local sce = function(z, l) return ts.softmax_cross_entropy_with_logits { labels = z, logits = l } end
local sparse = function(z, l)
  return ts.sparse_softmax_cross_entropy_with_logits { labels = z, logits = l }
end
local sigm = function(z, l) return ts.sigmoid_cross_entropy_with_logits { labels = z, logits = l } end

local function all_finite(t)
  if type(t) == "table" then
    for _, v in ipairs(t) do
      if not all_finite(v) then return false end
    end
    return true
  end
  return t == t and t ~= math.huge and t ~= -math.huge
end

local function softmax_row(r)
  local m = math.max(table.unpack(r))
  local s, out = 0, {}
  for i = 1, #r do s = s + exp(r[i] - m) end
  for i = 1, #r do out[i] = exp(r[i] - m) / s end
  return out
end

for dt, tol in pairs(FLOATS) do
  describe("softmax and log_softmax (" .. dt .. ")", function()
    local x = ts.tensor({ { 1, 2, 3 }, { -1, 0, 1 } }, dt)

    it("normalises the last axis by default", function()
      local r = both(function(a) return ts.softmax(a) end, { x },
        { softmax_row { 1, 2, 3 }, softmax_row { -1, 0, 1 } }, { 2, 3 }, dt, tol)
      for i = 1, 2 do
        local s = 0
        for j = 1, 3 do s = s + r:get(i, j) end
        H.close(1, s, tol)
      end
      both(function(a) return a:log_softmax() end, { x },
        { { 1 - log(exp(1) + exp(2) + exp(3)), 2 - log(exp(1) + exp(2) + exp(3)),
            3 - log(exp(1) + exp(2) + exp(3)) },
          { -1 - log(exp(-1) + 1 + exp(1)), -log(exp(-1) + 1 + exp(1)), 1 - log(exp(-1) + 1 + exp(1)) } },
        { 2, 3 }, dt, tol)
    end)

    it("takes a 1-based or negative axis", function()
      local want = { { 1 / (1 + exp(-2)), 1 / (1 + exp(-2)), 1 / (1 + exp(-2)) },
                     { 1 / (1 + exp(2)), 1 / (1 + exp(2)), 1 / (1 + exp(2)) } }
      both(function(a) return ts.softmax(a, 1) end, { x }, want, { 2, 3 }, dt, tol)
      both(function(a) return a:softmax { axis = -2 } end, { x }, want, { 2, 3 }, dt, tol)
      H.fails(function() ts.softmax(x, 3) end, "axis 3 is out of range for rank 2")
    end)

    it("takes exactly one axis", function()
      local core = require "tensorslow.core"
      for _, op in ipairs { "softmax", "log_softmax" } do
        H.fails(function() core.apply(op, { axis = {} }, x) end, op .. " takes exactly one axis, got 0")
        H.fails(function() core.apply(op, { axis = { 1, 2 } }, x) end,
          op .. " takes exactly one axis, got 2")
        H.tensor(core.apply(op, { axis = { 2 } }, x), core.apply(op, nil, x):totable(), dt, tol)
      end
    end)

    it("stays finite for logits of 1000", function()
      local big = ts.tensor({ { 1000, 0 }, { 1000, 1000 }, { -1000, 1000 } }, dt)
      local r = both(function(a) return ts.softmax(a) end, { big },
        { { 1, 0 }, { 0.5, 0.5 }, { 0, 1 } }, { 3, 2 }, dt, tol)
      assert.is_true(all_finite(r:totable()))
      r = both(function(a) return ts.log_softmax(a) end, { big },
        { { 0, -1000 }, { -log(2), -log(2) }, { -2000, 0 } }, { 3, 2 }, dt, tol)
      assert.is_true(all_finite(r:totable()))
    end)

    it("handles size-1 axes and empty tensors", function()
      both(function(a) return ts.softmax(a) end, { ts.tensor({ { 5 }, { -7 } }, dt) }, { { 1 }, { 1 } },
        { 2, 1 }, dt, tol)
      both(function(a) return ts.log_softmax(a) end, { ts.zeros({ 0, 3 }, dt) }, {}, { 0, 3 }, dt, tol)
    end)
  end)

  describe("cross-entropy losses (" .. dt .. ")", function()
    local logits = ts.tensor({ { 1, 2, 3 }, { 1000, 0, -1000 } }, dt)
    local lse1 = log(exp(1) + exp(2) + exp(3))

    it("softmax_cross_entropy_with_logits gives one loss per row", function()
      local labels = ts.tensor({ { 0, 1, 0 }, { 0.5, 0.5, 0 } }, dt)
      local r = both(sce,
        { labels, logits }, { lse1 - 2, 0.5 * 0 + 0.5 * 1000 }, { 2 }, dt, tol)
      assert.is_true(all_finite(r:totable()))
      -- Lua tables adopt the logits' dtype
      H.tensor(sce({ 1, 0, 0 }, ts.tensor({ 0, 0, 0 }, dt)), log(3), dt, tol)
      both(sce,
        { ts.zeros({ 0, 4 }, dt), ts.zeros({ 0, 4 }, dt) }, {}, { 0 }, dt, tol)
    end)

    it("sparse_softmax_cross_entropy_with_logits takes 1-based class indices", function()
      both(sparse,
        { ts.tensor({ 2, 3 }, "int64"), logits }, { lse1 - 2, 2000 }, { 2 }, dt, tol)
      both(sparse,
        { ts.tensor({ 1, 1 }, "uint8"), logits }, { lse1 - 1, 0 }, { 2 }, dt, tol)
      H.tensor(sparse({ 3 }, ts.tensor({ { 0, 0, 0 } }, dt)), { log(3) }, dt, tol)
      H.fails(function()
        ts.sparse_softmax_cross_entropy_with_logits { labels = { 4, 1 }, logits = logits }
      end, "label 4 (row 1) is out of range for 3 classes")
      H.fails(function()
        ts.sparse_softmax_cross_entropy_with_logits { labels = ts.tensor({ 1, 2 }, dt), logits = logits }
      end, "labels must be int64 or uint8")
      H.fails(function()
        ts.sparse_softmax_cross_entropy_with_logits { labels = { 1, 2, 3 }, logits = logits }
      end, "labels of shape [3] do not match logits of shape [2, 3]")
    end)

    it("sigmoid_cross_entropy_with_logits is element-wise and stable", function()
      local z = ts.tensor({ 1, 0, 1, 0, 1 }, dt)
      local x = ts.tensor({ 0, 2, -1000, 1000, 1000 }, dt)
      local r = both(sigm,
        { z, x }, { log(2), 2 + log(1 + exp(-2)), 1000, 1000, 0 }, { 5 }, dt, tol)
      assert.is_true(all_finite(r:totable()))
    end)

    it("reports shape and dtype errors naming the op", function()
      H.fails(function()
        ts.softmax_cross_entropy_with_logits { labels = ts.zeros({ 2, 2 }, dt), logits = logits }
      end, "softmax_cross_entropy_with_logits: labels of shape [2, 2] and logits of shape [2, 3]")
      H.fails(function() ts.softmax_cross_entropy_with_logits { logits = logits } end,
        "expected {labels=, logits=}")
      local g = ts.Graph()
      local l = ts.placeholder { graph = g, dtype = dt, shape = { 2, 3 } }
      H.fails(function()
        ts.sigmoid_cross_entropy_with_logits { labels = ts.ones({ 3 }, dt), logits = l, name = "sce" }
      end, "sigmoid_cross_entropy_with_logits 'sce': labels of shape [3]")
    end)
  end)

  describe("mean_squared_error, l2_loss and bias_add (" .. dt .. ")", function()
    it("mean_squared_error is the scalar mean", function()
      both(function(a, b) return ts.mean_squared_error(a, b) end,
        { ts.tensor({ { 1, 2 }, { 3, 4 } }, dt), ts.tensor({ { 2, 4 }, { 3, 0 } }, dt) },
        (1 + 4 + 0 + 16) / 4, {}, dt, tol)
      both(function(a, b) return a:mean_squared_error(b) end, { ts.zeros({ 0 }, dt), ts.zeros({ 0 }, dt) }, 0,
        {}, dt, tol)
      H.fails(function() ts.mean_squared_error(ts.ones({ 2 }, dt), ts.ones({ 3 }, dt)) end,
        "labels of shape [2] and predictions of shape [3] must have the same shape")
    end)

    it("l2_loss is sum(x^2) / 2", function()
      both(function(a) return ts.l2_loss(a) end, { ts.tensor({ { 1, 2 }, { 3, -1 } }, dt) }, 7.5, {}, dt, tol)
      both(function(a) return a:l2_loss() end, { ts.zeros({ 0, 2 }, dt) }, 0, {}, dt, tol)
    end)

    it("bias_add adds along the last axis", function()
      both(function(a, b) return ts.bias_add(a, b) end,
        { ts.tensor({ { 1, 2 }, { 3, 4 } }, dt), ts.tensor({ 10, 20 }, dt) }, { { 11, 22 }, { 13, 24 } },
        { 2, 2 }, dt, tol)
      both(function(a, b) return a:bias_add(b) end, { ts.zeros({ 0, 2 }, dt), ts.tensor({ 1, 2 }, dt) }, {},
        { 0, 2 }, dt, tol)
      H.fails(function() ts.bias_add(ts.ones({ 2, 3 }, dt), ts.ones({ 2 }, dt)) end,
        "bias_add: bias must be 1-D with the size of x's last axis: x [2, 3], bias [2]")
    end)
  end)

  describe("dropout (" .. dt .. ")", function()
    local x = ts.ones({ 1000 }, dt)

    it("is the identity unless training", function()
      H.tensor(ts.dropout(x, 0.5), x:totable(), dt, 0)
      H.tensor(x:dropout(0.5, { training = false }), x:totable(), dt, 0)
      H.tensor(ts.dropout(x, 0, { training = true }), x:totable(), dt, 0)
    end)

    it("zeroes about rate of the values and scales the rest by 1/(1-rate)", function()
      local r = ts.dropout(x, 0.75, { training = true })
      local zeros = 0
      for i = 1, 1000 do
        local v = r:get(i)
        if v == 0 then zeros = zeros + 1 else H.close(4, v, tol) end
      end
      assert.is_true(zeros > 650 and zeros < 850, "zeros: " .. zeros)
    end)

    it("follows a fed training placeholder and is reproducible given ts.seed", function()
      local function build_and_run()
        ts.seed(42)
        local g = ts.Graph()
        local p = ts.placeholder { graph = g, dtype = dt, shape = { 1000 } }
        local training = ts.placeholder { graph = g, dtype = "uint8", shape = {} }
        local d = ts.dropout(p, 0.5, { training = training })
        local sess <close> = ts.Session(g)
        local off = sess:run(d, { [p] = x, [training] = 0 })
        local on1 = sess:run(d, { [p] = x, [training] = 1 })
        local on2 = sess:run(d, { [p] = x, [training] = 1 })
        return off, on1, on2
      end
      local off, a1, a2 = build_and_run()
      local _, b1, b2 = build_and_run()
      H.tensor(off, x:totable(), dt, 0)
      H.tensor(b1, a1:totable(), dt, 0)
      H.tensor(b2, a2:totable(), dt, 0)
      local differ = false
      for i = 1, 1000 do differ = differ or a1:get(i) ~= a2:get(i) end
      assert.is_true(differ, "each run draws a new mask")
      ts.seed(7)
      local e1 = ts.dropout(x, 0.5, { training = true })
      ts.seed(7)
      H.tensor(ts.dropout(x, 0.5, { training = true }), e1:totable(), dt, 0)
    end)

    it("takes training = true in graphs and a scalar tensor eagerly", function()
      local g = ts.Graph()
      local p = ts.placeholder { graph = g, dtype = dt, shape = { -1 } }
      local d = p:dropout(0.5, { training = true, seed = 3 })
      assert.are.same({ -1 }, d.shape)
      local sess <close> = ts.Session(g)
      local r = sess:run(d, { [p] = x })
      local zeros = 0
      for i = 1, 1000 do if r:get(i) == 0 then zeros = zeros + 1 else H.close(2, r:get(i), tol) end end
      assert.is_true(zeros > 400 and zeros < 600, "zeros: " .. zeros)
      H.tensor(ts.dropout(x, 0.5, { training = ts.tensor(0, "uint8") }), x:totable(), dt, 0)
      local on = ts.dropout(x, 0.5, { training = ts.tensor(1, "uint8") })
      assert.is_true(on:totable()[1] == 0 or on:totable()[1] == 2)
      both(function(a) return ts.dropout(a, 0.5) end, { ts.zeros({ 0, 2 }, dt) }, {}, { 0, 2 }, dt, 0)
    end)

    it("rejects bad rates and training values", function()
      H.fails(function() ts.dropout(x, 1) end, "rate must be a number in [0, 1)")
      H.fails(function() ts.dropout(x, 0.5, { training = "yes" }) end, "training must be")
      H.fails(function() ts.dropout(x, 0.5, { training = ts.ones { 2 } }) end, "training must be a scalar")
    end)
  end)
end

describe("nn ops on integers", function()
  it("refuse int64 and uint8 with a hint to cast", function()
    local i = ts.tensor({ { 1, 2 } }, "int64")
    for _, f in ipairs {
      function() return ts.softmax(i) end,
      function() return ts.log_softmax(ts.tensor({ 1 }, "uint8")) end,
      function() return ts.l2_loss(i) end,
      function() return ts.bias_add(i, ts.tensor({ 1, 2 }, "int64")) end,
      function() return ts.dropout(i, 0.5) end,
      function() return ts.mean_squared_error(i, i) end,
      function() return ts.sigmoid_cross_entropy_with_logits { labels = i, logits = i } end,
      function() return ts.softmax_cross_entropy_with_logits { labels = i, logits = i } end,
      function() return ts.sparse_softmax_cross_entropy_with_logits { labels = { 1 }, logits = i } end,
    } do
      H.fails(f, "use cast to float32 or float64")
    end
  end)

  it("also live in ts.nn and build nodes in graphs", function()
    assert.are.equal(ts.softmax, ts.nn.softmax)
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 10 } }
    local y = ts.nn.sparse_softmax_cross_entropy_with_logits { labels = { 1 }, logits = x, name = "loss" }
    assert.are.equal("loss", y.name)
    assert.are.same({ 1 }, y.shape) -- the labels fix the unknown batch size
    assert.are.equal("float64", y.dtype)
  end)
end)
