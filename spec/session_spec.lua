local ts = require "tensorslow"
local H = require "helpers"
local core = require "tensorslow.core"

describe("Session:run", function()
  local g, x, y, z
  before_each(function()
    g = ts.Graph():as_default()
    x = ts.placeholder { name = "x", shape = { -1 } }
    y = x * 2
    z = y + 1
  end)

  it("returns a tensor for a node", function()
    local s = ts.Session()
    H.tensor(s:run(z, { [x] = { 1, 2, 3 } }), { 3, 5, 7 }, "float64")
  end)

  it("returns an array for an array of nodes", function()
    local s = ts.Session(g)
    local r = s:run({ y, z }, { [x] = { 1 } })
    H.tensor(r[1], { 2 })
    H.tensor(r[2], { 3 })
  end)

  it("returns a table with the same keys for a table of nodes", function()
    local s = ts.Session()
    local r = s:run({ double = y, plus = z }, { [x] = { 4 } })
    H.tensor(r.double, { 8 })
    H.tensor(r.plus, { 9 })
  end)

  it("accepts numbers, tables and tensors as feeds", function()
    local s = ts.Session()
    local p = ts.placeholder()
    H.tensor(s:run(p + 1, { [p] = 2 }), 3)
    H.tensor(s:run(p + 1, { [p] = ts.tensor { 1 } }), { 2 })
  end)

  it("names a missing feed", function()
    local s = ts.Session()
    H.fails(function() s:run(z) end, "placeholder 'x' must be fed a value (needed by 'multiply')")
  end)

  it("names a wrongly shaped feed", function()
    local s = ts.Session()
    H.fails(function() s:run(z, { [x] = { { 1 } } }) end,
      "placeholder 'x' expects shape [?], was fed shape [1, 1]")
  end)

  it("names a wrong feed dtype", function()
    local s = ts.Session()
    H.fails(function() s:run(z, { [x] = ts.tensor({ 1 }, "float32") }) end,
      "placeholder 'x' expects dtype float64, was fed float32")
  end)

  it("refuses to feed a non-placeholder", function()
    local s = ts.Session()
    H.fails(function() s:run(z, { [y] = { 1 } }) end,
      "cannot feed 'multiply': it is a multiply, not a placeholder")
    H.fails(function() s:run(z, { [true] = { 1 } }) end,
      "feed keys must be placeholder nodes or their names, got boolean")
    H.fails(function() s:run(z, { multiply = { 1 } }) end,
      "cannot feed 'multiply': it is a multiply, not a placeholder")
  end)

  it("refuses nodes of another graph", function()
    local s = ts.Session()
    local other = ts.Graph():as_default()
    local w = ts.constant(1, { name = "w" })
    H.fails(function() s:run(w) end, "fetch 'w' belongs to another graph than the session's")
    assert.are.equal(other, w.graph)
  end)

  it("checks at run time what was unknown at construction", function()
    local s = ts.Session(g)
    local a = ts.placeholder { name = "a" }
    local b = ts.placeholder { name = "b" }
    local c = ts.add(a, b, { name = "sum" })
    H.fails(function() s:run(c, { [a] = { 1, 2 }, [b] = { 1, 2, 3 } }) end,
      "add 'sum': shapes [2] and [3] cannot be broadcast together")
  end)

  it("a closed session refuses to run; close is idempotent", function()
    local s = ts.Session()
    s:close()
    s:close()
    H.fails(function() s:run(z, { [x] = { 1 } }) end, "run: the session is closed")
  end)

  it("works as a to-be-closed variable", function()
    local outer
    do
      local s <close> = ts.Session()
      outer = s
      H.tensor(s:run(z, { [x] = { 0 } }), { 1 })
    end
    H.fails(function() outer:run(z, { [x] = { 1 } }) end, "closed")
  end)

  it("fetches a variable's current value", function()
    local v = ts.Variable { 1, 2 }
    local s = ts.Session()
    H.tensor(s:run(v), { 1, 2 })
    v:assign { 3, 4 }
    H.tensor(s:run(v), { 3, 4 })
  end)
end)

describe("plans", function()
  it("compute only what the fetches need, each node once", function()
    local g = ts.Graph():as_default()
    local calls = 0
    local x = ts.placeholder { name = "x" }
    local shared = core.custom(g, "count", nil, "float64", nil, function(t)
      calls = calls + 1
      return t
    end, x)
    local a = shared + 1
    local b = shared * 2
    local unused = ts.placeholder { name = "unused" } + 1
    local s = ts.Session()
    local r = s:run({ a, b }, { [x] = { 1 } })
    H.tensor(r[1], { 2 })
    H.tensor(r[2], { 2 })
    assert.are.equal(1, calls)
    -- x, count, constant, add, constant, multiply
    assert.are.equal(6, s:plan_steps({ a, b }, { [x] = 0 }))
    assert.is_not_nil(unused)
  end)

  it("are cached per fetch set and reused", function()
    ts.Graph():as_default()
    local x = ts.placeholder()
    local y = x + 1
    local s = ts.Session()
    assert.is_nil(s:plan_steps(y, { [x] = 0 }))
    s:run(y, { [x] = 1 })
    assert.are.equal(3, s:plan_steps(y, { [x] = 0 }))
    -- growing the graph keeps plans valid: nodes never change once built
    local _ = y * 3
    H.tensor(s:run(y, { [x] = 2 }), 3)
  end)

  it("run a chain of 200,000 nodes without overflowing the C stack", function()
    ts.Graph():as_default()
    local x = ts.placeholder()
    local y = x
    for _ = 1, 200000 do y = y + 1 end
    local s = ts.Session()
    H.tensor(s:run(y, { [x] = 0 }), 200000)
  end)
end)

describe("custom compute errors", function()
  it("surface from run naming the op, and the session stays usable", function()
    local g = ts.Graph():as_default()
    local x = ts.placeholder()
    local bad = core.custom(g, "explode", nil, "float64", nil, function() error("boom") end, x)
    local s = ts.Session()
    H.fails(function() s:run(bad, { [x] = 1 }) end, "op 'explode' failed")
    H.tensor(s:run(x + 1, { [x] = 1 }), 2)
  end)
end)

describe("profiling and allocations", function()
  it("run with {profile = true} returns time and bytes per node and per op", function()
    ts.Graph():as_default()
    local x = ts.placeholder { name = "x" }
    local y = ts.matmul(x, x, { name = "mm" }) + 1
    local s = ts.Session()
    local v, prof = s:run(y, { [x] = ts.ones { 64, 64 } }, { profile = true })
    assert.are.equal(65, v:get(1, 1))
    assert.are.equal(4, #prof.steps) -- x, mm, constant, add
    assert.are.equal("mm", prof.steps[2].name)
    assert.are.equal(64 * 64 * 8, prof.steps[2].bytes)
    assert.is_true(prof.total >= prof.steps[2].seconds)
    local ops = {}
    for _, o in ipairs(prof.ops) do ops[o.op] = o end
    assert.are.equal(1, ops.matmul.count)
    assert.truthy(tostring(prof):find("op type", 1, true))
    assert.truthy(tostring(prof):find("matmul", 1, true))
    assert.is_nil(select(2, s:run(y, { [x] = ts.ones { 2, 2 } })))
  end)

  it("a repeated run with the same shapes allocates nothing", function()
    ts.Graph():as_default()
    local x = ts.placeholder { shape = { -1, 4 } }
    local W = ts.Variable(ts.ones { 4, 3 })
    local y = (ts.matmul(x, W) + 1) * 2 - x:matmul(W)
    local s = ts.Session()
    local feed = { [x] = ts.ones { 5, 4 } }
    s:run(y, feed)
    local after_first = s:stats().allocations
    assert.is_true(after_first > 0)
    for _ = 1, 10 do s:run(y, feed) end
    assert.are.equal(after_first, s:stats().allocations)
    -- a smaller batch fits the buffers already there
    s:run(y, { [x] = ts.ones { 2, 4 } })
    assert.are.equal(after_first, s:stats().allocations)
    assert.are.equal(1, s:stats().plans)
  end)

  it("element-wise steps compute in place over an input of known shape dying there", function()
    ts.Graph():as_default()
    local x = ts.placeholder { shape = { 40, 30 } }
    local W = ts.Variable(ts.randn { 30, 30 } * 0.1)
    local a = ts.matmul(x, W)          -- a dies at the add
    local b = ts.tanh(a + 1)           -- fused: add, tanh (a is external, same shape)
    local c = ts.softmax(b)            -- b dies here, but softmax is not element-wise
    local d = ts.exp(c) * c            -- c is read twice by this group, then dies
    local e = d + ts.matmul(d, W)      -- d is still read after the matmul: no reuse before
    local s = ts.Session()
    local xv = ts.randn { 40, 30 }
    local got = s:run(e, { [x] = xv })
    assert.is_true(s:stats().in_place >= 2, "in place: " .. s:stats().in_place)
    local Wv = W:value()
    local cv = ts.softmax(ts.tanh(xv:matmul(Wv) + 1))
    local dv = cv:exp() * cv
    H.close((dv + dv:matmul(Wv)):totable(), got:totable(), 1e-14)
    -- a repeated run, and unknown shapes (no in-place then) agree
    H.close(got:totable(), s:run(e, { [x] = xv }):totable(), 0)
    local x2 = ts.placeholder { shape = { -1, 30 } }
    local e2 = ts.exp(ts.matmul(x2, W)) * 2
    local s2 = ts.Session()
    H.close((xv:matmul(Wv):exp() * 2):totable(), s2:run(e2, { [x2] = xv }):totable(), 1e-14)
    assert.equal(0, s2:stats().in_place)
  end)

  it("steps whose values are never alive at once share buffers", function()
    ts.Graph():as_default()
    local x = ts.placeholder { shape = { 3, 3 } }
    local W = ts.Variable(ts.eye(3) * 0.5 + 0.1)
    local y = x
    for _ = 1, 10 do y = ts.softmax(ts.matmul(y, W)) end
    local s = ts.Session()
    local xv = ts.rand { 3, 3 }
    local got = s:run(y, { [x] = xv })
    -- 20 computed steps in a chain: each output needs a buffer besides its input's
    assert.is_true(s:stats().allocations <= 3, "allocations: " .. s:stats().allocations)
    local e = xv
    local Wv = W:value()
    for _ = 1, 10 do e = ts.softmax(ts.matmul(e, Wv)) end
    H.close(e:totable(), got:totable(), 1e-15)
    -- a value read again later keeps its buffer until then
    local a = ts.matmul(x, W)
    local b = ts.softmax(a)
    local c = ts.matmul(b, W)
    local d = ts.softmax(c) + a
    local s2 = ts.Session()
    local a_v = ts.matmul(xv, Wv)
    local want = ts.softmax(ts.matmul(ts.softmax(a_v), Wv)) + a_v
    H.close(want:totable(), s2:run(d, { [x] = xv }):totable(), 1e-15)
    local r = s2:run({ d, b }, { [x] = xv })
    H.close(want:totable(), r[1]:totable(), 1e-15)
    H.close(ts.softmax(a_v):totable(), r[2]:totable(), 1e-15)
  end)
end)

describe("fused element-wise chains", function()
  -- exp(x) * y + z - 1 with intermediates of one consumer: one fused pass
  local function build(dtype, xshape, yshape)
    ts.Graph():as_default()
    local x = ts.placeholder { dtype = dtype }
    local y = ts.placeholder { dtype = dtype }
    local r = (ts.exp(x) * y + 2) - ts.sqrt(ts.abs(y))
    return x, y, r, xshape, yshape
  end

  local function expected(xv, yv)
    return math.exp(xv) * yv + 2 - math.sqrt(math.abs(yv))
  end

  for _, dt in ipairs { "float64", "float32" } do
    for _, case in ipairs {
      { "same shapes, above a block", { 3000 }, { 3000 } },
      { "same shapes, below a block", { 7 }, { 7 } },
      { "a scalar operand", { 2000 }, {} },
      { "a broadcast row (op by op)", { 40, 50 }, { 50 } },
    } do
      it(case[1] .. " in " .. dt .. " agrees with op-by-op arithmetic", function()
        local x, y, r = build(dt)
        ts.seed(5)
        local xv = ts.randn(case[2], dt)
        local yv = ts.randn(case[3], dt)
        local s = ts.Session()
        for _ = 1, 2 do -- the second run takes the cached-shapes path
          local out = s:run(r, { [x] = xv, [y] = yv })
          assert.are.same(#case[2] >= #case[3] and case[2] or case[3], out.shape)
          local ex = (ts.exp(xv) * yv + 2) - ts.sqrt(ts.abs(yv))
          H.close(ex:totable(), out:totable(), dt == "float64" and 1e-12 or 1e-5)
        end
        local first = xv:reshape { -1 }:get(1)
        local yfirst = #case[3] == 0 and yv:item() or yv:reshape { -1 }:get(1)
        H.close(expected(first, yfirst), s:run(r, { [x] = xv, [y] = yv }):reshape { -1 }:get(1),
          dt == "float64" and 1e-12 or 1e-5)
      end)
    end
  end

  it("gives the same results with 1 and 2 threads", function()
    local x, y, r = build("float64")
    ts.seed(9)
    local feed = { [x] = ts.randn { 1 << 18 }, [y] = ts.randn { 1 << 18 } }
    local s = ts.Session()
    local n0 = ts.get_num_threads()
    ts.set_num_threads(1)
    local one = s:run(r, feed)
    ts.set_num_threads(2)
    local two = s:run(r, feed)
    ts.set_num_threads(n0)
    H.close(one:totable(), two:totable(), 1e-12)
  end)

  it("reductions split over threads agree with one thread", function()
    ts.Graph():as_default()
    ts.seed(4)
    local x = ts.placeholder { shape = { 700, 300 } }
    local t3 = ts.placeholder { shape = { 50, 40, 100 }, dtype = "float32" }
    local fetch = { ts.reduce_sum(x, -1), ts.reduce_mean(x, 2, { keepdims = true }),
      ts.reduce_max(x, -1), ts.reduce_logsumexp(x, 2), ts.reduce_sum(t3, 2), ts.reduce_min(t3, 3) }
    local xv, tv = ts.randn { 700, 300 }, ts.randn({ 50, 40, 100 }, "float32")
    local s = ts.Session()
    local n0 = ts.get_num_threads()
    ts.set_num_threads(1)
    local one = s:run(fetch, { [x] = xv, [t3] = tv })
    ts.set_num_threads(2)
    local two = s:run(fetch, { [x] = xv, [t3] = tv })
    ts.set_num_threads(n0)
    for i = 1, #fetch do
      assert.are.same(one[i].shape, two[i].shape)
      H.close(one[i]:totable(), two[i]:totable(), 1e-12)
    end
    -- and with the eager op (one thread: no session)
    H.close(xv:sum(-1):totable(), two[1]:totable(), 1e-12)
    H.close(tv:sum(2):totable(), two[5]:totable(), 1e-6)
  end)

  it("ts.clock is monotonic and finer than a millisecond", function()
    local a = ts.clock()
    local b = a
    while b == a do b = ts.clock() end
    assert.is_true(b > a)
    assert.is_true(b - a < 1e-3)
  end)
end)

describe("run into out tensors", function()
  local g, x, y, s
  before_each(function()
    g = ts.Graph()
    x = ts.placeholder { shape = { -1, 3 }, graph = g, name = "x" }
    y = ts.placeholder { shape = { -1, 3 }, graph = g, name = "y" }
    s = ts.Session(g)
  end)

  it("writes a single fetch into out and returns that tensor", function()
    local m = ts.matmul(x, ts.transpose(y))
    local out = ts.zeros { 2, 2 }
    local feed = { [x] = { { 1, 2, 3 }, { 4, 5, 6 } }, [y] = { { 1, 0, 0 }, { 0, 1, 0 } } }
    local r = s:run(m, feed, { out = out })
    assert.is_true(rawequal(r, out))
    assert.are.same({ { 1, 2 }, { 4, 5 } }, out:totable())
    local before = s:stats().allocations
    for _ = 1, 3 do assert.is_true(rawequal(out, s:run(m, feed, { out = out }))) end
    assert.equal(before, s:stats().allocations)
    -- without out the session's own buffer is used again, and out keeps its values
    local fresh = s:run(m, { [x] = { { 2, 2, 2 }, { 1, 1, 1 } }, [y] = { { 1, 0, 0 }, { 0, 1, 0 } } })
    assert.are.same({ { 2, 2 }, { 1, 1 } }, fresh:totable())
    assert.are.same({ { 1, 2 }, { 4, 5 } }, out:totable())
  end)

  it("takes the result of a fused chain, and lists and tables of fetches", function()
    local n = 3000
    local a = ts.placeholder { shape = { n }, dtype = "float32", graph = g }
    local e = ts.exp(a) * 2 + 1
    local total = ts.reduce_sum(a)
    local av = ts.rand({ n }, "float32")
    local want = (av:exp() * 2 + 1):totable()
    local o1, o2 = ts.zeros({ n }, "float32"), ts.zeros({}, "float32")
    local r = s:run({ e, total }, { [a] = av }, { out = { o1, o2 } })
    assert.is_true(rawequal(r[1], o1) and rawequal(r[2], o2))
    H.close(want, o1:totable(), 1e-6)
    H.close(av:sum():item(), o2:item(), 1e-3)
    local o3 = ts.zeros({ n }, "float32")
    local d = s:run({ ex = e, t = total }, { [a] = av }, { out = { ex = o3 } })
    assert.is_true(rawequal(d.ex, o3))
    assert.is_false(rawequal(d.t, o2))
    H.close(want, o3:totable(), 1e-6)
  end)

  it("is correct when out is also a feed", function()
    local z = (x + 1) * y + x
    local xv = ts.tensor { { 1, 2, 3 } }
    local r = s:run(z, { [x] = xv, [y] = { { 2, 2, 2 } } }, { out = xv })
    assert.is_true(rawequal(r, xv))
    assert.are.same({ { 5, 8, 11 } }, xv:totable())
  end)

  it("copies a variable or a fed value into out", function()
    local v = ts.Variable({ 1, 2, 3 }, { graph = g })
    local o = ts.zeros { 3 }
    assert.is_true(rawequal(o, s:run(v, nil, { out = o })))
    assert.are.same({ 1, 2, 3 }, o:totable())
  end)

  it("large results of repeated runs are fresh tensors: earlier ones keep their values", function()
    local n = 20000 -- above the size written straight into a result allocated up front
    local a = ts.placeholder { shape = { n }, graph = g }
    local e = ts.exp(a) * 2
    local m = ts.matmul(ts.reshape(a, { 200, 100 }), ts.reshape(a, { 100, 200 }))
    local v1, v2 = ts.rand { n }, ts.rand { n }
    local r1 = s:run({ e, m }, { [a] = v1 })
    local r2 = s:run({ e, m }, { [a] = v2 })
    local r3 = s:run({ e, m }, { [a] = v1 })
    assert.is_false(rawequal(r2[1], r3[1]))
    H.close((v1:exp() * 2):totable(), r1[1]:totable(), 1e-15)
    H.close((v2:exp() * 2):totable(), r2[1]:totable(), 1e-15)
    H.close(r1[1]:totable(), r3[1]:totable(), 0)
    H.close(r1[2]:totable(), r3[2]:totable(), 0)
    assert.are.same({ 200, 200 }, r2[2].shape)
    local m2 = v2:reshape { 200, 100 }:matmul(v2:reshape { 100, 200 })
    H.close(m2:totable(), r2[2]:totable(), 1e-12)
    -- the same node fetched twice: two tensors with the same values
    local d = s:run({ e, e }, { [a] = v2 })
    local d2 = s:run({ e, e }, { [a] = v2 })
    assert.is_false(rawequal(d2[1], d2[2]))
    H.close(d[1]:totable(), d2[2]:totable(), 0)
  end)

  it("names a wrong out tensor", function()
    local z = x * 2
    H.fails(function() s:run(z, { [x] = { { 1, 2, 3 } } }, { out = ts.zeros { 3 } }) end,
      "the out tensor for fetch 1 is float64 [3], the result is float64 [1, 3]")
    H.fails(function() s:run(z, { [x] = { { 1, 2, 3 } } }, { out = ts.zeros({ 1, 3 }, "float32") }) end,
      "the out tensor for fetch 1 is float32 [1, 3], the result is float64 [1, 3]")
    H.fails(function() s:run(z, { [x] = { { 1, 2, 3 } } }, { out = { 1 } }) end,
      "out must be a tensor like the fetches, got table")
    H.fails(function() s:run({ z }, { [x] = { { 1, 2, 3 } } }, { out = { 7 } }) end,
      "out entry for fetch 1 must be a tensor, got number")
    H.fails(function() s:run(z, { [x] = { { 1, 2, 3 } } }, { outs = ts.zeros { 1, 3 } }) end,
      "run: unknown option outs (options are profile, out, yield_every and yield_after_us)")
    H.fails(function() s:run(z, { [x] = { { 1, 2, 3 } } }, { true }) end,
      "run: unknown option number")
  end)
end)
