-- Edge cases of the plan: buffer sharing (liveness), fused groups, results
-- written into out tensors, results allocated up front, tensor views and
-- reductions split over threads. Every result is checked against an
-- independent computation (eager ops or plain Lua loops).
local ts = require "tensorslow"
local H = require "helpers"

-- Flat Lua array of a tensor's values (row-major).
local function flat(t)
  return t:copy():reshape({ t:numel() }):totable()
end

-- Random graphs for the fuzzers: ops of arity 1-3 over two placeholders of the
-- given shape, built from math.random (seed it first). Returns the
-- placeholders, the fetches, the indices of the fetched values and a function
-- computing every value eagerly from the two inputs.
local FUZZ_OPS = {
  { 1, function(a) return ts.tanh(a) end },
  { 1, function(a) return ts.sigmoid(a) * 0.5 + 0.25 end },
  { 1, function(a) return ts.softmax(a) end },
  { 1, function(a) return ts.transpose(a) end },
  { 1, function(a) return ts.reduce_max(a, 1, { keepdims = true }) - a end },
  { 1, function(a) return ts.exp(a * 0.1) * a - 1 end },
  { 2, function(a, b) return a + b end },
  { 2, function(a, b) return a * b end },
  { 2, function(a, b) return ts.tanh(ts.matmul(a, b)) end },
  { 2, function(a, b) return ts.reduce_sum(a, 2, { keepdims = true }) * 0.01 + b end },
  { 3, function(a, b, c) return (a + b) * c end },
}

local function random_graph(shape, max_ops)
  ts.Graph():as_default()
  local x1 = ts.placeholder { shape = shape }
  local x2 = ts.placeholder { shape = shape }
  local nodes, recipe = { x1, x2 }, {}
  for k = 1, math.random(3, max_ops) do
    local op = FUZZ_OPS[math.random(#FUZZ_OPS)]
    local ins = {}
    for j = 1, op[1] do
      ins[j] = math.random() < 0.5 and #nodes - math.random(0, math.min(2, #nodes - 1))
        or math.random(#nodes)
    end
    recipe[k] = { op = op, ins = ins }
    local args = {}
    for j = 1, #ins do args[j] = nodes[ins[j]] end
    nodes[#nodes + 1] = op[2](table.unpack(args))
  end
  local fetch, fidx = {}, {}
  for f = 1, math.random(1, 4) do
    fidx[f] = math.random() < 0.4 and #nodes or math.random(#nodes)
    fetch[f] = nodes[fidx[f]]
  end
  local function eager(v1, v2)
    local vals = { v1, v2 }
    for k = 1, #recipe do
      local args = {}
      for j = 1, #recipe[k].ins do args[j] = vals[recipe[k].ins[j]] end
      vals[#vals + 1] = recipe[k].op[2](table.unpack(args))
    end
    return vals
  end
  return x1, x2, fetch, fidx, eager
end

-- One run of a random graph on fresh n x n inputs, with out tensors for about
-- 70% of the fetches when with_out; every result is checked against eager ops.
-- Returns the results and the out tensors.
local function check_run(s, x1, x2, fetch, fidx, eager, n, with_out, label)
  local v1, v2 = ts.rand({ n, n }) - 0.5, ts.rand({ n, n }) - 0.5
  local vals = eager(v1, v2)
  local outs
  if with_out then
    outs = {}
    for f = 1, #fetch do if math.random() < 0.7 then outs[f] = ts.zeros { n, n } end end
  end
  local r = s:run(fetch, { [x1] = v1, [x2] = v2 }, outs and { out = outs })
  for f = 1, #fetch do
    H.close(vals[fidx[f]]:totable(), r[f]:totable(), 1e-9, ("%s fetch %d"):format(label, f))
  end
  return r, outs
end

-- A tensor of the given shape from a flat Lua array.
local function from_flat(values, shape, dtype)
  return ts.tensor(values, dtype or "float64"):reshape(shape)
end

describe("plan buffer sharing", function()
  before_each(function() ts.Graph():as_default() end)

  it("keeps a value consumed much later than it is produced", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local early = ts.tanh(x) * 3
    local chain = x
    for i = 1, 12 do
      chain = i % 3 == 0 and ts.softmax(chain) or (i % 3 == 1 and ts.sigmoid(chain) * 0.9 or chain + 0.1)
    end
    local late = ts.matmul(early, chain) + early
    local s = ts.Session()
    for _, n in ipairs { 4, 30, 4, 64, 64, 30 } do
      local xv = ts.rand { n, n } - 0.5
      local ev = ts.tanh(xv) * 3
      local cv = xv
      for i = 1, 12 do
        cv = i % 3 == 0 and ts.softmax(cv) or (i % 3 == 1 and ts.sigmoid(cv) * 0.9 or cv + 0.1)
      end
      local want = ts.matmul(ev, cv) + ev
      H.close(want:totable(), s:run(late, { [x] = xv }):totable(), 1e-12)
    end
  end)

  it("diamonds, a fetched intermediate consumed later, and the same node fetched twice", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local a = x * 2 + 1
    local b = ts.exp(a * 0.1)
    local c = ts.tanh(a)
    local d = b * c + a
    local e = ts.matmul(d, ts.transpose(a))
    local f = ts.reduce_sum(e, 2, { keepdims = true }) + d
    local s = ts.Session()
    for _, n in ipairs { 3, 40, 40, 3, 48, 40 } do
      local xv = ts.rand { n, n }
      local av = xv * 2 + 1
      local bv, cv = ts.exp(av * 0.1), ts.tanh(av)
      local dv = bv * cv + av
      local ev = ts.matmul(dv, ts.transpose(av))
      local fv = ts.reduce_sum(ev, 2, { keepdims = true }) + dv
      local r = s:run({ a, f, d, a, e, f }, { [x] = xv })
      H.close(av:totable(), r[1]:totable(), 1e-12)
      H.close(fv:totable(), r[2]:totable(), 1e-10)
      H.close(dv:totable(), r[3]:totable(), 1e-12)
      H.close(av:totable(), r[4]:totable(), 1e-12)
      H.close(ev:totable(), r[5]:totable(), 1e-10)
      H.close(fv:totable(), r[6]:totable(), 1e-10)
      assert.is_false(rawequal(r[1], r[4]))
    end
  end)

  it("fused chains of at least a block mixed with matmul, softmax and reductions", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local y = ts.placeholder { shape = { -1, -1 } }
    local chain1 = ts.sigmoid(x * 0.5 + y) * 2 - 1 -- fusable
    local m = ts.matmul(chain1, y) * 0.01
    local chain2 = ts.tanh(m + chain1) * x + 0.5 -- fusable, reads chain1 again
    local sm = ts.softmax(chain2)
    local red = ts.reduce_max(sm, 1, { keepdims = true })
    local out = (sm - red) * 3 + chain1 * y -- fusable, reads chain1 a third time
    local s = ts.Session()
    for _, n in ipairs { 32, 24, 32, 8, 40, 40 } do -- 1024 and 576 elements: fused
      local xv, yv = ts.rand { n, n } - 0.5, ts.rand { n, n }
      local c1 = ts.sigmoid(xv * 0.5 + yv) * 2 - 1
      local mv = ts.matmul(c1, yv) * 0.01
      local c2 = ts.tanh(mv + c1) * xv + 0.5
      local smv = ts.softmax(c2)
      local want = (smv - ts.reduce_max(smv, 1, { keepdims = true })) * 3 + c1 * yv
      local r = s:run({ out, chain2 }, { [x] = xv, [y] = yv })
      H.close(want:totable(), r[1]:totable(), 1e-12)
      H.close(c2:totable(), r[2]:totable(), 1e-12)
    end
  end)

  it("random graphs over several shapes, with and without out, keep every result", function()
    local kept = {}
    for seed = 1, 25 do
      math.randomseed(seed)
      local x1, x2, fetch, fidx, eager = random_graph({ -1, -1 }, 12)
      local s = ts.Session()
      for run, n in ipairs { 8, 24, 96, 24, 96, 96, 8 } do
        local r, outs = check_run(s, x1, x2, fetch, fidx, eager, n, run % 3 == 1,
          ("seed %d run %d"):format(seed, run))
        for f = 1, #fetch do
          if outs and outs[f] then assert.is_true(rawequal(outs[f], r[f])) end
          kept[#kept + 1] = { r[f], r[f]:totable() }
        end
      end
      s:close()
    end
    for i, k in ipairs(kept) do H.close(k[2], k[1]:totable(), 0, "kept result " .. i) end
  end)

  it("grows then shrinks shapes: earlier results keep their values", function()
    local x = ts.placeholder { shape = { -1 } }
    local a = ts.exp(x * 0.01)
    local b = ts.reduce_sum(ts.reshape(a, { -1, 4 }), 2)
    local c = ts.tile(b, { 4 }) + a * 2
    local s = ts.Session()
    local got = {}
    for i, n in ipairs { 8, 40000, 16, 80000, 80000, 4, 40000 } do
      local xv = ts.rand { n }
      local av = ts.exp(xv * 0.01)
      local bv = ts.reduce_sum(av:reshape(-1, 4), 2)
      local want = ts.tile(bv, { 4 }) + av * 2
      got[i] = { s:run(c, { [x] = xv }), want }
      H.close(want:totable(), got[i][1]:totable(), 1e-12)
    end
    for _, p in ipairs(got) do H.close(p[2]:totable(), p[1]:totable(), 1e-12) end
  end)

  it("optimizer steps run late, with snapshots of fetched variables", function()
    local n = 40
    local x = ts.placeholder { shape = { -1, n } }
    local w0 = ts.rand({ n, n }) - 0.5
    local w = ts.Variable(w0)
    local y = ts.tanh(ts.matmul(x, w))
    local loss = ts.reduce_sum(y * y)
    local lr = 0.01
    local step = ts.train.GradientDescentOptimizer(lr):minimize(loss)
    local s = ts.Session()
    local wv = w0:copy()
    for it = 1, 6 do
      local rows = it % 2 == 0 and 100 or 3 -- 100 x 40: results of 32 KB and more
      local xv = ts.rand { rows, n } - 0.5
      local yv = ts.tanh(ts.matmul(xv, wv))
      local gw = ts.matmul(ts.transpose(xv), yv * (1 - yv * yv) * 2)
      local r = s:run({ w, loss, step, y, w }, { [x] = xv })
      H.close(wv:totable(), r[1]:totable(), 1e-12)
      H.close(wv:totable(), r[5]:totable(), 1e-12)
      H.close((yv * yv):sum():item(), r[2]:item(), 1e-10)
      assert.is_nil(r[3])
      H.close(yv:totable(), r[4]:totable(), 1e-12)
      wv = wv - gw * lr
      H.close(wv:totable(), w:value():totable(), 1e-10)
    end
  end)

  it("custom Lua ops, gradients and dropout in one plan", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local cube = ts.Operation {
      type = "plan_edge_cube", inputs = { ts.tanh(x) },
      compute = function(t) return t * t * t end,
      gradient = function(op, g) local a = op.inputs[1]; return { g * a * a * 3 } end,
    }
    local z = ts.matmul(cube, x) + cube
    local gx = ts.gradients(ts.reduce_sum(z), { x })[1]
    local dx = ts.dropout(x, 0.5, { training = true })
    local s = ts.Session()
    for _, n in ipairs { 3, 30, 30, 5 } do
      local xv = ts.rand { n, n } + 0.5
      local tv = ts.tanh(xv)
      local cv = tv * tv * tv
      local r = s:run({ z, gx, dx, cube }, { [x] = xv })
      H.close((ts.matmul(cv, xv) + cv):totable(), r[1]:totable(), 1e-12)
      H.close(cv:totable(), r[4]:totable(), 1e-12)
      -- d/dx sum(cube(tanh x) @ x + cube(tanh x))
      local ones = ts.ones { n, n }
      local gc = ts.matmul(ones, ts.transpose(xv)) + 1
      local want = gc * tv * tv * 3 * (1 - tv * tv) + ts.matmul(ts.transpose(cv), ones)
      H.close(want:totable(), r[2]:totable(), 1e-10)
      local dv, xf = flat(r[3]), flat(xv)
      for i = 1, #dv do assert.is_true(dv[i] == 0 or math.abs(dv[i] - 2 * xf[i]) < 1e-12) end
    end
  end)
end)

describe("run into out tensors: edge cases", function()
  before_each(function() ts.Graph():as_default() end)

  it("fetches a variable, a placeholder and a constant into out", function()
    local x = ts.placeholder { shape = { 2 } }
    local v = ts.Variable { 1, 2 }
    local c = ts.constant { 5, 6 }
    local step = ts.train.GradientDescentOptimizer(1):minimize(ts.reduce_sum(v * x))
    local s = ts.Session()
    local ov, ox, oc = ts.zeros { 2 }, ts.zeros { 2 }, ts.zeros { 2 }
    local r = s:run({ v, x, c, step }, { [x] = { 3, 4 } }, { out = { ov, ox, oc } })
    assert.is_true(rawequal(r[1], ov) and rawequal(r[2], ox) and rawequal(r[3], oc))
    assert.are.same({ 1, 2 }, ov:totable()) -- read before the update
    assert.are.same({ 3, 4 }, ox:totable())
    assert.are.same({ 5, 6 }, oc:totable())
    assert.are.same({ -2, -2 }, v:value():totable())
    -- writing into out does not write into the graph's values
    ov:set(1, 100)
    oc:set(1, 100)
    assert.are.same({ -2, -2 }, s:run(v):totable())
    assert.are.same({ 5, 6 }, s:run(c):totable())
  end)

  it("alternates runs with and without out, and between shapes", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local y = ts.matmul(x, x) * 0.5
    local z = ts.exp(y * 0.1) + y
    local s = ts.Session()
    local prev = {}
    for i, n in ipairs { 4, 4, 100, 100, 4, 100, 100 } do
      local xv = ts.rand { n, n }
      local yv = ts.matmul(xv, xv) * 0.5
      local zv = ts.exp(yv * 0.1) + yv
      local r
      if i % 2 == 0 then
        local oy, oz = ts.zeros { n, n }, ts.zeros { n, n }
        r = s:run({ y, z }, { [x] = xv }, { out = { oy, oz } })
        assert.is_true(rawequal(r[1], oy) and rawequal(r[2], oz))
      else
        r = s:run({ y, z }, { [x] = xv })
      end
      H.close(yv:totable(), r[1]:totable(), 1e-12)
      H.close(zv:totable(), r[2]:totable(), 1e-12)
      prev[#prev + 1] = { r[2], zv }
    end
    for _, p in ipairs(prev) do H.close(p[2]:totable(), p[1]:totable(), 1e-12) end
  end)

  it("out that is a view of a feed, or a feed given as out for a later step", function()
    local x = ts.placeholder { shape = { 2, 2 } }
    local y = ts.matmul(x, x) + x
    local s = ts.Session()
    local base = ts.tensor { 1, 2, 3, 4 }
    local xv = base:reshape(2, 2)
    local want = (ts.matmul(xv, xv) + xv):totable()
    local r = s:run(y, { [x] = xv }, { out = base:reshape(2, 2) })
    assert.are.same(want, r:totable())
    assert.are.same({ want[1][1], want[1][2], want[2][1], want[2][2] }, base:totable())
  end)

  it("out tables with string keys and a node fetched twice into two tensors", function()
    local x = ts.placeholder { shape = { -1 } }
    local y = ts.exp(x) * 2 + 1
    local s = ts.Session()
    for _, n in ipairs { 600, 10, 600 } do
      local xv = ts.rand { n }
      local want = (ts.exp(xv) * 2 + 1):totable()
      local o1, o2 = ts.zeros { n }, ts.zeros { n }
      local r = s:run({ y, y }, { [x] = xv }, { out = { o1, o2 } })
      assert.is_true(rawequal(r[1], o1) and rawequal(r[2], o2))
      H.close(want, o1:totable(), 1e-12)
      H.close(want, o2:totable(), 1e-12)
      local o3 = ts.zeros { n }
      local d = s:run({ a = y, b = x }, { [x] = xv }, { out = { a = o3 } })
      assert.is_true(rawequal(d.a, o3))
      H.close(want, o3:totable(), 1e-12)
      H.close(xv:totable(), d.b:totable(), 0)
    end
  end)

  it("names a wrong out tensor for the second fetch", function()
    local x = ts.placeholder { shape = { 3 } }
    local s = ts.Session()
    H.fails(function()
      s:run({ x * 2, x + 1 }, { [x] = { 1, 2, 3 } }, { out = { ts.zeros { 3 }, ts.zeros { 3, 1 } } })
    end, "run: the out tensor for fetch 2 is float64 [3, 1], the result is float64 [3]")
  end)

  -- Regression: a dest overlapping another fetch's dest was written directly, so
  -- the matmul z = y @ y cleared t while reading y from it. Now neither is written
  -- directly and both are copied in fetch order (t ends as z).
  it("the same out tensor given for two fetches holds the last fetch", function()
    local x = ts.placeholder { shape = { 4, 4 } }
    local y = x * 2
    local z = ts.matmul(y, y)
    local s = ts.Session()
    local xv = ts.rand { 4, 4 }
    local yv = xv * 2
    local t = ts.zeros { 4, 4 }
    local r = s:run({ y, z }, { [x] = xv }, { out = { t, t } })
    assert.is_true(rawequal(r[1], t) and rawequal(r[2], t))
    H.close(ts.matmul(yv, yv):totable(), t:totable(), 1e-12)
  end)

  -- Regression (same cause): a fetch without out read y from the shared tensor
  -- after z had been written there.
  it("two fetches sharing an out tensor do not change a third fetch", function()
    local x = ts.placeholder { shape = { 3 } }
    local y = x * 3
    local z = y * 2
    local w = y + 1
    local s = ts.Session()
    local t = ts.zeros { 3 }
    local r = s:run({ y, z, w }, { [x] = { 1, 2, 3 } }, { out = { t, t } })
    assert.are.same({ 6, 12, 18 }, t:totable())
    assert.are.same({ 4, 7, 10 }, r[3]:totable())
  end)

  -- Regression: an out tensor sharing the result's memory (a view of the feed, or
  -- of another out) with another shape was returned instead of refused.
  it("names an out tensor of another shape even when it shares the result's memory", function()
    local x = ts.placeholder { shape = { 4 } }
    local s = ts.Session()
    local xv = ts.tensor { 1, 2, 3, 4 }
    H.fails(function() s:run(x, { [x] = xv }, { out = xv:reshape(2, 2) }) end,
      "run: the out tensor for fetch 1 is float64 [2, 2], the result is float64 [4]")
    local y = x * 3
    local a = ts.zeros { 4 }
    H.fails(function() s:run({ y, y }, { [x] = xv }, { out = { a, a:reshape(2, 2) } }) end,
      "run: the out tensor for fetch 2 is float64 [2, 2], the result is float64 [4]")
  end)
end)

describe("results allocated up front", function()
  before_each(function() ts.Graph():as_default() end)

  it("repeated large runs give fresh, independent, correct tensors", function()
    local x = ts.placeholder { shape = { -1, -1 } }
    local e = ts.sigmoid(x) * 2 - x -- fused root
    local m = ts.matmul(x, ts.transpose(x)) -- not fusable
    local sm = ts.softmax(m * 0.01)
    local r1 = ts.reduce_sum(e, 1)
    local s = ts.Session()
    local seen = {}
    for _, n in ipairs { 100, 100, 100, 20, 100, 100, 120, 120 } do
      local xv = ts.rand { n, n }
      local ev = ts.sigmoid(xv) * 2 - xv
      local mv = ts.matmul(xv, ts.transpose(xv))
      local r = s:run({ e, m, sm, r1, e, m }, { [x] = xv })
      H.close(ev:totable(), r[1]:totable(), 1e-12)
      H.close(mv:totable(), r[2]:totable(), 1e-12)
      H.close(ts.softmax(mv * 0.01):totable(), r[3]:totable(), 1e-12)
      H.close(ts.reduce_sum(ev, 1):totable(), r[4]:totable(), 1e-12)
      H.close(ev:totable(), r[5]:totable(), 1e-12)
      H.close(mv:totable(), r[6]:totable(), 1e-12)
      assert.is_false(rawequal(r[1], r[5]))
      assert.is_false(rawequal(r[2], r[6]))
      r[5]:set(1, 1, 1e9) -- two fetches of one node do not share memory
      H.close(ev:totable(), r[1]:totable(), 1e-12)
      seen[#seen + 1] = { r, ev, mv }
    end
    for _, p in ipairs(seen) do
      H.close(p[2]:totable(), p[1][1]:totable(), 1e-12)
      H.close(p[3]:totable(), p[1][2]:totable(), 1e-12)
    end
  end)

  it("large results next to an optimizer step and fetched variables", function()
    local n = 100 -- 100 x 100 float64: 80 KB
    local x = ts.placeholder { shape = { n, n } }
    local w = ts.Variable(ts.rand({ n, n }) * 0.1)
    local y = ts.matmul(x, w)
    local loss = ts.reduce_mean(y * y)
    local step = ts.train.GradientDescentOptimizer(0.5):minimize(loss)
    local s = ts.Session()
    local xv = ts.rand({ n, n }) * 0.1
    local results = {}
    for _ = 1, 4 do
      local wv = w:value()
      local r = s:run({ y, w, step }, { [x] = xv })
      H.close(wv:totable(), r[2]:totable(), 0)
      H.close(ts.matmul(xv, wv):totable(), r[1]:totable(), 1e-12)
      results[#results + 1] = { r[1], ts.matmul(xv, wv) }
      assert.is_false(w:value():totable()[1][1] == wv:totable()[1][1])
    end
    for _, p in ipairs(results) do H.close(p[2]:totable(), p[1]:totable(), 1e-12) end
  end)
end)

describe("tensor views (reshape)", function()
  it("views of views share memory and survive the collection of their base", function()
    local vv
    do
      local v
      do
        local base = ts.arange(1, 25)
        v = base:reshape(4, 6)
        vv = v:reshape { 2, -1, 3 }
      end
      collectgarbage()
      collectgarbage()
      assert.are.same({ 2, 4, 3 }, vv.shape)
      assert.equal(24, vv:numel())
      vv:set(2, 4, 3, -1)
      assert.equal(-1, v:get(4, 6))
      v:set(1, 1, 100)
      assert.equal(100, vv:get(1, 1, 1))
    end
    collectgarbage()
    collectgarbage()
    local want = {}
    for i = 1, 24 do want[i] = i end
    want[1], want[24] = 100, -1
    assert.are.same(want, flat(vv))
  end)

  it("a view is a feed, a view is an out, copies are not views", function()
    ts.Graph():as_default()
    local base = ts.tensor { 1, 2, 3, 4, 5, 6 }
    local view = base:reshape(2, 3)
    local c = view:copy()
    base:set(1, 10)
    assert.equal(10, view:get(1, 1))
    assert.equal(1, c:get(1, 1))
    local x = ts.placeholder { shape = { 2, 3 } }
    local s = ts.Session()
    local r = s:run(x * 2, { [x] = view })
    assert.are.same({ { 20, 4, 6 }, { 8, 10, 12 } }, r:totable())
    local out = ts.zeros { 6 }
    local o = s:run(x + 1, { [x] = view }, { out = out:reshape(2, 3) })
    assert.are.same({ { 11, 3, 4 }, { 5, 6, 7 } }, o:totable())
    assert.are.same({ 11, 3, 4, 5, 6, 7 }, out:totable())
    -- eager ops on views
    assert.are.same({ { 10, 4 }, { 3, 8 }, { 5, 12 } },
      (view:reshape(3, 2) * ts.tensor { 1, 2 }):totable())
    H.fails(function() view:reshape(4) end, "cannot reshape a tensor of shape [2, 3]")
  end)
end)

describe("reductions split over threads", function()
  local n0
  setup(function() n0 = ts.get_num_threads() end)
  teardown(function()
    ts.set_num_threads(n0)
    -- leave the collector as found: a large peak here would otherwise
    -- delay its next major cycle in later specs (generational mode)
    local mode = collectgarbage("incremental")
    collectgarbage(mode)
    collectgarbage()
  end)

  -- Plain Lua reduction of a flat array seen as [outer, R, inner] over R.
  local function lua_reduce(xs, outer, R, inner, kind)
    local o = {}
    for a = 0, outer - 1 do
      for c = 0, inner - 1 do
        local acc
        for b = 0, R - 1 do
          local v = xs[(a * R + b) * inner + c + 1]
          if acc == nil then acc = v
          elseif kind == "sum" or kind == "mean" then acc = acc + v
          elseif kind == "max" then if v > acc or v ~= v then acc = v end
          elseif kind == "min" then if v < acc or v ~= v then acc = v end
          end
          if acc ~= acc then break end
        end
        if kind == "mean" then acc = acc / R end
        o[a * inner + c + 1] = acc
      end
    end
    return o
  end

  -- outer is large enough (>= 2 * 65536 rows) for the loop to be split
  local outer = 140000
  local cases = {
    { "sum", "float64", { outer, 3 }, 2, false, outer, 3, 1 },
    { "mean", "float64", { outer, 2, 2 }, 2, true, outer, 2, 2 },
    { "max", "float64", { outer, 3 }, -1, true, outer, 3, 1 },
    { "min", "float32", { outer, 2, 2 }, 2, false, outer, 2, 2 },
    { "sum", "int64", { outer, 3 }, 2, false, outer, 3, 1 },
    { "max", "int64", { outer, 2, 2 }, 2, true, outer, 2, 2 },
    { "sum", "float32", { 3, outer }, 1, false, 1, 3, outer },
  }
  for _, c in ipairs(cases) do
    local kind, dtype, shape, axis, keep, o, R, inner = table.unpack(c)
    it(("reduce_%s of %s [%s] over axis %d%s"):format(kind, dtype, table.concat(shape, ", "), axis,
      keep and " (keepdims)" or ""), function()
      ts.Graph():as_default()
      math.randomseed(7)
      local total, xs = 1, {}
      for _, d in ipairs(shape) do total = total * d end
      for i = 1, total do
        if dtype == "int64" then xs[i] = math.random(-1000, 1000)
        elseif dtype == "float32" then xs[i] = math.random(-64, 64) / 8 -- exact in float32
        else xs[i] = math.random() - 0.5 end
      end
      if kind == "max" or kind == "min" then
        if dtype ~= "int64" then
          xs[4] = 0 / 0
          xs[total - 2] = 0 / 0
          xs[total // 2] = 0 / 0
        end
      end
      local xv = from_flat(xs, shape, dtype)
      local x = ts.placeholder { shape = shape, dtype = dtype }
      local node = ts["reduce_" .. kind](x, axis, { keepdims = keep })
      local s = ts.Session()
      ts.set_num_threads(1)
      local one = s:run(node, { [x] = xv })
      ts.set_num_threads(2)
      local two = s:run(node, { [x] = xv })
      assert.are.same(one.shape, two.shape)
      local want = lua_reduce(xs, o, R, inner, kind)
      local tol = dtype == "float32" and 1e-6 or 1e-12
      H.close(want, flat(one), tol)
      H.close(want, flat(two), tol)
    end)
  end
end)

describe("in-place steps (shapes known when the graph is built)", function()
  it("random graphs of known shapes give every result, with steps in place", function()
    local in_place = 0
    for seed = 1, 40 do
      math.randomseed(seed)
      local n = seed % 2 == 0 and 24 or 96 -- 96 x 96: fused passes
      local x1, x2, fetch, fidx, eager = random_graph({ n, n }, 14)
      local s = ts.Session()
      for run = 1, 3 do
        check_run(s, x1, x2, fetch, fidx, eager, n, run == 2, ("seed %d run %d"):format(seed, run))
      end
      in_place = in_place + s:stats().in_place
    end
    assert.is_true(in_place >= 20, "steps in place: " .. in_place)
  end)
end)
