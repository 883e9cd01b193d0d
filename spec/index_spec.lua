-- Index ops (src/ops_index.c, lua/tensorslow/index.lua) against NumPy and PyTorch
-- (spec/fixtures/make_index.py: random cases, values and the gradients of a weighted
-- sum), the three forms, int64/uint8 kernels, gradchecks and errors.
local ts = require "tensorslow"
local H = require "helpers"
local R = require "fixture_reader"

local fx = R.load("index")
local TOL = R.TOL

-- The op of case c applied to x (and the case's indices, updates: tensors or nodes).
local function apply_case(c, x, idx, u, lengths, mask)
  local k = c.kind
  if k == "where" then return ts.where(x) end
  if k == "sort" then
    local o = { direction = c.direction }
    return ts.sort(x, c.axis, o), ts.argsort(x, c.axis, o)
  end
  if k == "unique" then return ts.unique(x, { axis = c.axis, sorted = c.sorted }) end
  if k == "boolean_mask" then return ts.boolean_mask(x, mask, c.axis) end
  if k == "gather_nd" then return ts.gather_nd(x, idx, { batch_dims = c.batch_dims })
  elseif k:find("^tensor_scatter_nd_") then
    if k == "tensor_scatter_nd_mul" then return ts.apply(k, nil, { x, idx, u, n = 3 }) end
    return ts[k](x, idx, u)
  elseif k == "gather_elements" then return ts.gather_elements(x, idx, c.axis)
  elseif k == "scatter_elements" then
    return ts.scatter_elements(x, idx, u, c.axis, { reduction = c.reduction })
  elseif k == "top_k" then
    return ts.top_k(x, c.k, { axis = c.axis, largest = c.largest })
  elseif k == "cumsum" then
    return ts.cumsum(x, c.axis, { exclusive = c.exclusive, reverse = c.reverse })
  elseif k == "matrix_band_part" then return ts.matrix_band_part(x, c.lower, c.upper)
  elseif k == "broadcast_to" then return ts.broadcast_to(x, c.shape)
  elseif k == "reverse" then return ts.reverse(x, c.axes)
  elseif k == "reverse_sequence" then return ts.reverse_sequence(x, lengths, c.seq_axis, c.batch_axis)
  end
  error("unknown kind " .. k)
end

local function ints(ref, shape) return fx:tensor(ref, shape, "int64") end
local function case_inputs(c, dtype)
  local x = fx:tensor(c.x, c.xshape, dtype)
  local idx = c.ishape and ints(c.idx, c.ishape)
  local u = c.u and fx:tensor(c.u, c.ushape or c.ishape, dtype)
  local lengths = c.lengths and ints(c.lengths, { c.xshape[c.batch_axis] })
  local mask = c.mask and fx:tensor(c.mask, c.mshape, "uint8")
  return x, idx, u, lengths, mask
end
local function label(i, c) return ("case %d (%s %s)"):format(i, c.kind, table.concat(c.xshape, "x")) end

describe("index ops against NumPy and PyTorch", function()
  it("compute the reference values eagerly in float64 and float32", function()
    local worst = {}
    for _, dt in ipairs { "float64", "float32" } do
      for i, c in ipairs(fx.spec.cases) do
        local x, idx, u, lengths, mask = case_inputs(c, dt)
        local y, yi = apply_case(c, x, idx, u, lengths, mask)
        assert.are.equal(c.kind == "where" and "int64" or dt, y.dtype, label(i, c))
        assert.are.same(c.yshape or c.xshape, y.shape, label(i, c))
        local e = R.worst(R.flat(y), fx:slice(c.y), dt)
        assert(e <= TOL[dt], ("%s in %s: error %g"):format(label(i, c), dt, e))
        if c.kind == "top_k" or c.kind == "sort" then
          assert.are.equal("int64", yi.dtype)
          assert.are.same(fx:slice(c.idx), R.flat(yi), label(i, c))
        elseif c.kind == "unique" then
          local _, inverse, count, first = apply_case(c, x)
          for name, t in pairs { inverse = inverse, count = count, first = first } do
            assert.are.equal("int64", t.dtype)
            assert.are.same(fx:slice(c[name]), R.flat(t), label(i, c) .. " " .. name)
          end
        end
        worst[dt] = math.max(worst[dt] or 0, e)
      end
    end
    assert(#fx.spec.cases >= 200)
  end)

  it("build graphs that compute the same values and the gradients of the weighted sum", function()
    for i, c in ipairs(fx.spec.cases) do
      for _, known in ipairs { true, false } do
        local g = ts.Graph()
        local x0, idx0, u0, len0, mask0 = case_inputs(c, "float64")
        local function ph(v, shape)
          return ts.placeholder { graph = g, dtype = v.dtype, shape = known and v.shape or shape }
        end
        local xshape -- boolean_mask needs the sizes of the axes it keeps
        if c.kind == "boolean_mask" then
          xshape = {}
          for d, n in ipairs(c.xshape) do xshape[d] = (d < c.axis or d >= c.axis + #c.mshape) and n or -1 end
        end
        local x, idx = ph(x0, xshape), idx0 and ph(idx0)
        local u, lengths = u0 and ph(u0), len0 and ph(len0)
        local mask = mask0 and ph(mask0, xshape and c.mshape and (function()
          local m = {}
          for d = 1, #c.mshape do m[d] = -1 end
          return m
        end)())
        local feed = { [x] = x0 }
        if idx then feed[idx] = idx0 end
        if u then feed[u] = u0 end
        if lengths then feed[lengths] = len0 end
        if mask then feed[mask] = mask0 end
        local y = apply_case(c, x, idx, u, lengths, mask)
        if known then assert.are.same(c.gshape or c.yshape or c.xshape, y.shape, label(i, c)) end
        local fetch, refs = { y }, { c.y }
        if c.dx then
          local wrt = { x, u }
          local d = ts.gradients(y, wrt, ts.constant(fx:tensor(c.w, c.yshape or c.xshape), { graph = g }))
          fetch[2], refs[2] = d[1], c.dx
          if c.du then fetch[3], refs[3] = d[2], c.du end
        end
        local sess <close> = ts.Session(g)
        local got = sess:run(fetch, feed)
        for j, ref in ipairs(refs) do
          local e = R.worst(R.flat(got[j]), fx:slice(ref), "float64")
          assert(e <= TOL.float64, ("%s output %d: error %g"):format(label(i, c), j, e))
        end
      end
    end
  end)

  it("move int64 values as they move floats", function()
    local MOVES = { gather_nd = true, gather_elements = true, tensor_scatter_nd_update = true,
      matrix_band_part = true, broadcast_to = true, reverse = true, reverse_sequence = true,
      tensor_scatter_nd_max = true, tensor_scatter_nd_min = true, boolean_mask = true, unique = true }
    local n = 0
    local function scaled(t) return (t * 1000):cast("int64") end
    for i, c in ipairs(fx.spec.cases) do
      local moves = c.kind == "scatter_elements" and c.reduction ~= "add" and c.reduction ~= "mul"
      if MOVES[c.kind] or moves then
        local x, idx, u, lengths, mask = case_inputs(c, "float64")
        local y = apply_case(c, scaled(x), idx, u and scaled(u), lengths, mask)
        assert.are.equal("int64", y.dtype)
        local want = scaled(fx:tensor(c.y, y.shape))
        assert.are.same(R.flat(want), R.flat(y), label(i, c))
        n = n + 1
      end
    end
    assert(n > 100)
  end)
end)

describe("index ops", function()
  local x = ts.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })

  it("take 1-based and negative indices as ts.gather does", function()
    H.tensor(ts.gather_nd(x, { { 2, 3 }, { 1, -1 }, { -2, 1 } }), { 6, 3, 1 }, "float64")
    H.tensor(x:gather_nd({ { 2 } }), { { 4, 5, 6 } })
    H.tensor(ts.gather_nd(x, ts.tensor({ { 2, 1 } }, "uint8")), { 4 })
    H.tensor(ts.gather_elements(x, { { 3, -3 } }, 2), { { 3, 1 } })
  end)

  it("add up repeated indices in scatter_nd and keep the last update", function()
    H.tensor(ts.scatter_nd({ { 1 }, { 3 }, { 1 } }, { 5, 6, 7 }, { 4 }), { 12, 0, 6, 0 })
    H.tensor(ts.tensor_scatter_nd_update(ts.zeros({ 3 }), { { 2 }, { 2 } }, { 1, 2 }), { 0, 2, 0 })
    H.tensor(ts.tensor_scatter_nd_sub(x, { { 1, 1 } }, { 1 }), { { 0, 2, 3 }, { 4, 5, 6 } })
    H.tensor(ts.tensor_scatter_nd_max(x, { { 1, 1 }, { 2, 2 } }, { 9, 0 }), { { 9, 2, 3 }, { 4, 5, 6 } })
    H.tensor(ts.scatter_elements(x, { { 1, 1 } }, { { 10, 20 } }, 2, { reduction = "add" }),
      { { 31, 2, 3 }, { 4, 5, 6 } })
  end)

  it("work on uint8 tensors where they move bytes or add", function()
    local b = ts.tensor({ { 1, 2 }, { 3, 4 } }, "uint8")
    H.tensor(ts.reverse(b, 1), { { 3, 4 }, { 1, 2 } }, "uint8")
    H.tensor(ts.cumsum(b, 2), { { 1, 3 }, { 3, 7 } }, "uint8")
    H.tensor(ts.broadcast_to(ts.tensor({ 7 }, "uint8"), { 2, 2 }), { { 7, 7 }, { 7, 7 } }, "uint8")
    local v, i = ts.top_k(b, 1, { axis = 1 })
    H.tensor(v, { { 3, 4 } }, "uint8")
    H.tensor(i, { { 2, 2 } }, "int64")
    H.tensor(ts.tensor_scatter_nd_add(b, { { 1, 1 } }, ts.tensor({ 5 }, "uint8")), { { 6, 2 }, { 3, 4 } })
  end)

  it("give top_k's values and indices in the three forms, names kept, ties in index order", function()
    local xs = { 3, 1, 3, 1, 5 }
    local v, i = ts.top_k(xs, 3)
    H.tensor(v, { 5, 3, 3 })
    H.tensor(i, { 5, 1, 3 }, "int64")
    v, i = ts.tensor(xs):top_k(2, { largest = false })
    H.tensor(i, { 2, 4 })
    H.tensor(v, { 1, 1 })
    local g = ts.Graph()
    local p = ts.placeholder { graph = g, dtype = "float32", shape = { 5 } }
    local vn, inn = p:top_k(2, { name = "best" })
    assert.are.equal("best", vn.name)
    assert.are.equal("best_indices", inn.name)
    assert.are.same({ 2 }, vn.shape)
    local got = H.run(g, { vn, inn }, { [p] = ts.tensor(xs, "float32") })
    H.tensor(got[1], { 5, 3 }, "float32")
    H.tensor(got[2], { 5, 1 }, "int64")
    assert.are.equal(ts.top_k, ts.nn.top_k)
    local nan = ts.tensor({ 1, 0 / 0, 2 })
    H.tensor(select(2, ts.top_k(nan, 2)), { 2, 3 })
  end)

  it("give where(cond) and boolean_mask results whose size changes from run to run", function()
    H.tensor(ts.where({ { 0, 3 }, { 1, 0 } }), { { 1, 2 }, { 2, 1 } }, "int64")
    assert.are.same({ 0, 1 }, ts.where(ts.zeros({ 4 })).shape)
    local g = ts.Graph()
    local xp = ts.placeholder { graph = g, dtype = "float32", shape = { 4, 2 } }
    local m = ts.placeholder { graph = g, dtype = "uint8", shape = { 4 } }
    local pos = ts.where(m, { name = "pos" })
    assert.are.equal("pos", pos.name)
    assert.are.same({ -1, 1 }, pos.shape)
    local kept = ts.boolean_mask(xp, m, { name = "kept" })
    assert.are.same({ -1, 2 }, kept.shape)
    local total = ts.reduce_sum(kept * 2)
    local dx = ts.gradients(total, xp)[1]
    local sess <close> = ts.Session(g)
    local xv = ts.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } }, "float32")
    for _, case in ipairs {
      { { 1, 0, 1, 1 }, { { 1, 2 }, { 5, 6 }, { 7, 8 } }, 58 },
      { { 0, 1, 0, 0 }, { { 3, 4 } }, 14 },
      { { 0, 0, 0, 0 }, {}, 0 },
      { { 1, 1, 1, 1 }, xv:totable(), 72 },
    } do
      local mv = ts.tensor(case[1], "uint8")
      local r = sess:run({ kept, total, dx, pos }, { [xp] = xv, [m] = mv })
      if #case[2] > 0 then H.tensor(r[1], case[2], "float32") else assert.are.same({ 0, 2 }, r[1].shape) end
      H.close(case[3], r[2]:item())
      local want = {}
      for i = 1, 4 do want[i] = { 2 * case[1][i], 2 * case[1][i] } end
      H.tensor(r[3], want, "float32")
      assert.are.equal(#case[2], r[4].shape[1])
    end
    H.fails(function() return ts.boolean_mask(xv, { 1, 0 }) end, "does not match")
    H.fails(function() return ts.boolean_mask(xv, { { { 1 } } }) end, "does not fit")
    H.fails(function() return ts.boolean_mask(xv, { 1, 0 }, math.maxinteger) end, "does not fit axis")
    local u = ts.placeholder { graph = g, dtype = "float32" }
    H.fails(function() return ts.boolean_mask(u, m) end, "ranks of tensor and mask must be known")
  end)

  it("have gradients that pass gradcheck", function()
    local X = { { 0.5, -1, 2 }, { 1.5, 0.25, -0.75 } }
    local checks = {
      function(a) return ts.gather_nd(a, { { 2, 3 }, { 1, -1 }, { 2, 3 } }) end,
      function(a) return ts.gather_nd(a, { { 2 }, { 1 } }, { batch_dims = 1 }) end,
      function(a) return ts.tensor_scatter_nd_update(a, { { 1, 2 } }, { 9 }) end,
      function(a) return ts.tensor_scatter_nd_add(a * 1, { { 2 }, { 2 } }, a) end,
      function(a) return ts.tensor_scatter_nd_update(ts.zeros({ 3, 3 }), { { 3 }, { 1 } }, a) end,
      function(a) return ts.gather_elements(a, { { 3, 1 }, { 2, 2 } }, 2) end,
      function(a) return ts.scatter_elements(a, { { 2, 1, 1 } }, { { 1, 2, 3 } }, 1) end,
      function(a)
        return ts.scatter_elements(ts.zeros({ 2, 3 }), { { 2, 1, 1 } }, ts.slice(a, { 1, 1 }, { 1, 3 }), 1,
          { reduction = "add" })
      end,
      function(a) return (ts.top_k(a, 2)) end,
      function(a) return ts.cumsum(a, 2, { exclusive = true }) end,
      function(a) return ts.cumsum(a, -2, { reverse = true }) end,
      function(a) return ts.matrix_band_part(a, 0, 1) end,
      function(a) return ts.broadcast_to(a, { 2, 2, 3 }) end,
      function(a) return ts.reverse(a, { 1, 2 }) end,
      function(a) return ts.reverse_sequence(a, { 1, 3 }, 2) end,
    }
    for k, f in ipairs(checks) do
      local ok, err = ts.test.gradcheck(f, { X })
      assert(ok, ("check %d: %s"):format(k, tostring(err)))
    end
  end)

  it("refuse an index out of range when they run, naming the op", function()
    H.fails(function() return ts.gather_nd(x, { { 3, 1 } }) end,
      "gather_nd: index 3 is out of range for axis 1 of size 2")
    H.fails(function() return ts.gather_nd(x, { { 1, 0 } }) end, "index 0 is out of range")
    H.fails(function() return ts.tensor_scatter_nd_add(x, { { 1, -4 } }, { 1 }) end,
      "tensor_scatter_nd_add: index -4 is out of range for axis 2 of size 3")
    H.fails(function() return ts.scatter_elements(x, { { 1, 5 } }, { { 1, 1 } }, 2) end,
      "scatter_elements: index 5")
    H.fails(function() return ts.gather_elements(x, { { 9 } }, 1) end, "gather_elements: index 9")
    H.fails(function() return ts.reverse_sequence(x, { 4, 1 }, 2) end,
      "reverse_sequence: length 4 of batch entry 1 is out of range")
    local g = ts.Graph()
    local i = ts.placeholder { graph = g, dtype = "int64", shape = { 1, 2 } }
    local y = ts.gather_nd(ts.constant(x, { graph = g }), i, { name = "pick" })
    H.fails(function() return H.run(g, y, { [i] = ts.tensor({ { 1, 7 } }, "int64") }) end,
      "gather_nd 'pick': index 7 is out of range for axis 2 of size 3")
    -- the data is untouched by a scatter that fails
    local v = ts.Variable(ts.zeros({ 3 }), { graph = g })
    local j = ts.placeholder { graph = g, dtype = "int64", shape = { 1, 1 } }
    local s = ts.tensor_scatter_nd_update(v, j, { 1 })
    H.fails(function() return H.run(g, s, { [j] = ts.tensor({ { 9 } }, "int64") }) end, "out of range")
    H.tensor(H.run(g, v), { 0, 0, 0 })
  end)

  it("refuse bad shapes, dtypes and options by name", function()
    H.fails(function() return ts.gather_nd(x, ts.tensor({ { 1.0 } })) end, "indices must be int64 or uint8")
    H.fails(function() return ts.gather_nd(x, { { 1, 1, 1 } }) end, "too long")
    H.fails(function() return ts.gather_nd(x, { { 1 } }, { batch_dims = 3 }) end, "batch_dims 3")
    H.fails(function() return ts.gather_nd(x, { 1 }, { batch = 1 }) end, "unknown option 'batch'")
    H.fails(function() return ts.tensor_scatter_nd_update(x, { { 1 } }, { 1, 2 }) end,
      "updates have shape [2], the indices and data need [1, 3]")
    H.fails(function()
      return ts.tensor_scatter_nd_add(x, { { 1 } }, ts.tensor({ { 1, 2, 3 } }, "float32"))
    end, "dtypes float64 and float32 do not match")
    H.fails(function() return ts.gather_elements(x, { 1 }, 1) end, "must have the same rank")
    H.fails(function() return ts.scatter_elements(x, { { 1 } }, { { 1 } }, 1, { reduction = "sum" }) end,
      "reduction must be none, add, mul, max or min")
    H.fails(function() return ts.top_k(x, 4) end, "k = 4 is out of range for an axis of size 3")
    H.fails(function() return ts.top_k(x, 1.5) end, "top_k: k must be an integer")
    H.fails(function() return ts.top_k(x, -1) end, "top_k: k = -1 is negative")
    H.fails(function() return ts.argsort(x, { direction = "UP" }) end,
      'argsort: direction must be "ASCENDING" or "DESCENDING", got UP')
    H.fails(function() return ts.cumsum(x, 3) end, "axis 3 is out of range for rank 2")
    H.fails(function() return ts.cumsum(x, 0) end, "axis 0 is not valid")
    H.fails(function() return ts.matrix_band_part({ 1, 2 }, 0, 0) end, "rank 2 or more")
    H.fails(function() return ts.broadcast_to(x, { 3, 3 }) end, "cannot be broadcast")
    H.fails(function() return ts.broadcast_to(x, { -1, 3 }) end, "negative")
    H.fails(function() return ts.reverse(x, { 1, 1 }) end, "axis 1 is given twice")
    H.fails(function() return ts.reverse_sequence(x, { 1, 1, 1 }, 2) end, "lengths [3] must be a vector")
    H.fails(function() return ts.reverse_sequence(x, { 1, 1 }, 1, 1) end, "are both 1")
    local g = ts.Graph()
    local p = ts.placeholder { graph = g, dtype = "float64", shape = { 2, 2 } }
    H.fails(function() return ts.gradients(ts.tensor_scatter_nd_max(p, { { 1 } }, { { 1, 1 } }), p) end,
      "no gradient is defined for op type 'tensor_scatter_nd_max'")
  end)
end)
