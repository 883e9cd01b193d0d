-- Index ops (src/ops_index.c): gathers and scatters by index tensors, top_k,
-- cumsum, matrix_band_part, broadcast_to, reverse, reverse_sequence. Indices
-- are 1-based with negative ones counting from the end, as in ts.gather; Lua
-- tables of indices become int64. An index out of range is an error naming the
-- op when it runs. Axes are 1-based (negative from the end). A trailing options
-- table gives {name=} and the options each op lists. Gradients sit beside each op.
-- Loaded by tensorslow/init.lua as require("tensorslow.index")(ts, I).
return function(ts, I)
  local op, apply, is_opts = I.op, I.apply, I.is_opts
  local need, attrs_of, node, int_of = I.need, I.attrs_of, I.node, I.int

  local function int_arg(v, what)
    local i = int_of(v)
    if not i then I.raise(("%s must be an integer, got %s"):format(what, tostring(v))) end
    return i
  end
  local function axis_arg(v, what, default)
    if v == nil then return default end
    local a = int_arg(v, what .. ": axis")
    if a == 0 then I.raise(what .. ": axis 0 is not valid (axes are 1-based; -1 is the last)") end
    return a
  end
  local function opts_of(what, opts, extra)
    I.op_options(what, opts, extra)
    return is_opts(opts) and opts or {}
  end
  -- node and tensor dtypes for ts.apply: Lua index tables become int64
  local IDX2 = { nil, "int64" }

  ------------------------------------------------------ gather_nd, scatter_nd

  --- gather_nd(x, indices [, {batch_dims=, name=}]): slices of x at the index
  -- rows of indices' last axis (TF1's gather_nd; indices 1-based).
  op { name = "gather_nd", fn = function(x, indices, opts)
    local o = opts_of("gather_nd", opts, { "batch_dims" })
    local b = o.batch_dims ~= nil and int_arg(o.batch_dims, "gather_nd: batch_dims") or 0
    return apply("gather_nd", { i1 = b, name = o.name }, { x, indices, n = 2 }, IDX2)
  end, grad = function(o, g)
    local x, idx = o.inputs[1], o.inputs[2]
    return { need(1) and node("tensor_scatter_nd_add", { i1 = attrs_of(o).i1 }, ts.zeros_like(x), idx, g)
      or nil }
  end }

  local SCATTER_IDX = { nil, "int64", nil }
  -- tensor_scatter_nd_<r>(tensor, indices, updates [, {name=}])
  local function scatter_nd_op(r, grad)
    local name = "tensor_scatter_nd_" .. r
    return op { name = name, grad = grad, fn = function(t, indices, updates, opts)
      local o = opts_of(name, opts)
      return apply(name, { name = o.name }, { t, indices, updates, n = 3 }, SCATTER_IDX)
    end }
  end
  local function gather_back(o, g)
    return need(3) and node("gather_nd", { i1 = attrs_of(o).i1 }, g, o.inputs[2]) or nil
  end
  --- tensor_scatter_nd_update(tensor, indices, updates [, {name=}]): tensor with the
  -- slices at indices replaced by updates (a repeated index: the last update wins).
  scatter_nd_op("update", function(o, g)
    local u = o.inputs[3]
    return { need(1) and node("tensor_scatter_nd_update", { i1 = attrs_of(o).i1 }, g, o.inputs[2],
      ts.zeros_like(u)) or nil, nil, gather_back(o, g) }
  end)
  --- tensor_scatter_nd_add(tensor, indices, updates [, {name=}]): updates added at indices.
  scatter_nd_op("add", function(o, g) return { g, nil, gather_back(o, g) } end)
  --- tensor_scatter_nd_max(tensor, indices, updates [, {name=}]): the larger of each.
  scatter_nd_op("max")
  --- tensor_scatter_nd_min(tensor, indices, updates [, {name=}]): the smaller of each.
  scatter_nd_op("min")
  -- the product at indices (ONNX ScatterND reduction "mul"; no TF1 name)
  op { name = "tensor_scatter_nd_mul", public = false }

  --- tensor_scatter_nd_sub(tensor, indices, updates [, {name=}]): updates subtracted.
  op { name = "tensor_scatter_nd_sub", fn = function(t, indices, updates, opts)
    local o = opts_of("tensor_scatter_nd_sub", opts)
    if not (I.is_node(updates) or I.is_tensor(updates)) then
      updates = ts.tensor(updates, (I.is_node(t) or I.is_tensor(t)) and t.dtype or nil)
    end
    return apply("tensor_scatter_nd_add", { name = o.name }, { t, indices, -updates, n = 3 },
      SCATTER_IDX)
  end }

  --- scatter_nd(indices, updates, shape [, {name=}]): zeros of shape with updates
  -- added at indices (repeated indices add up).
  op { name = "scatter_nd", method = false, fn = function(indices, updates, shape, opts)
    local o = opts_of("scatter_nd", opts)
    if not (I.is_node(updates) or I.is_tensor(updates)) then updates = ts.tensor(updates) end
    local z = ts.zeros(I.int_list(shape, "scatter_nd: shape", 3), updates.dtype)
    return apply("tensor_scatter_nd_add", { name = o.name }, { z, indices, updates, n = 3 },
      SCATTER_IDX)
  end }

  ------------------------------------------- gather_elements, scatter_elements

  --- gather_elements(x, indices [, axis = 1] [, {name=}]): out[i][j] = x[indices[i][j]][j]
  -- for axis 1 (torch.gather); indices has x's rank and fits inside x off the axis.
  op { name = "gather_elements", fn = function(x, indices, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    local o = opts_of("gather_elements", opts)
    return apply("gather_elements", { axis = axis_arg(axis, "gather_elements", 1), name = o.name },
      { x, indices, n = 2 }, IDX2)
  end, grad = function(o, g)
    local x, idx = o.inputs[1], o.inputs[2]
    return { need(1) and node("scatter_elements", { axis = attrs_of(o).axis, i1 = 1 },
      ts.zeros_like(x), idx, g) or nil }
  end }

  local REDUCTIONS = { none = 0, add = 1, mul = 2, max = 3, min = 4 }
  --- scatter_elements(data, indices, updates [, axis = 1] [, {reduction=, name=}]):
  -- data with updates[i][j] written to [indices[i][j]][j] (axis 1); reduction
  -- "none" (a repeated index: the last wins), "add", "mul", "max" or "min".
  op { name = "scatter_elements", fn = function(data, indices, updates, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    local o = opts_of("scatter_elements", opts, { "reduction" })
    local red = REDUCTIONS[o.reduction or "none"]
    if not red then
      I.raise(("scatter_elements: reduction must be none, add, mul, max or min, got %s")
        :format(tostring(o.reduction)))
    end
    return apply("scatter_elements", { axis = axis_arg(axis, "scatter_elements", 1), i1 = red,
      name = o.name }, { data, indices, updates, n = 3 }, SCATTER_IDX)
  end, grad = function(o, g)
    local at = attrs_of(o)
    local idx, u = o.inputs[2], o.inputs[3]
    if at.i1 ~= 0 and at.i1 ~= 1 then
      error("gradients: scatter_elements has a gradient for reductions none and add only", 0)
    end
    local du = need(3) and ts.gather_elements(g, idx, at.axis) or nil
    if at.i1 == 1 then return { g, nil, du } end
    return { need(1) and node("scatter_elements", { axis = at.axis, i1 = 0 }, g, idx,
      ts.zeros_like(u)) or nil, nil, du }
  end }

  ------------------------------------------------------------------ top_k

  op { name = "top_k_indices", public = false, grad = false }
  --- top_k(x, k [, {axis = -1, largest = true, sorted = true, name=}]): the k largest
  -- (smallest) entries along axis, largest first, and their 1-based positions (int64);
  -- equal values in index order, NaN counted largest. Returns values, indices.
  op { name = "top_k", nn = true, fn = function(x, k, opts)
    local o = opts_of("top_k", opts, { "axis", "largest", "sorted" })
    local axis = axis_arg(o.axis, "top_k", -1)
    local largest = o.largest == nil or o.largest
    if not (I.is_node(x) or I.is_tensor(x)) then x = ts.tensor(x) end
    k = int_arg(k, "top_k: k")
    if k < 0 then I.raise(("top_k: k = %d is negative"):format(k)) end
    local idx = apply("top_k_indices", { i1 = k, axis = axis,
      v1 = { largest and 1 or 0, 1 }, name = o.name and o.name .. "_indices" }, { x, n = 1 })
    local values = apply("gather_elements", { axis = axis, name = o.name },
      { x, idx, n = 2 })
    return values, idx
  end }

  local DIRECTIONS = { ASCENDING = 0, DESCENDING = 1 }
  local function order(what, x, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    local o = opts_of(what, opts, { "direction" })
    local largest = DIRECTIONS[o.direction or "ASCENDING"]
    if not largest then
      I.raise(("%s: direction must be \"ASCENDING\" or \"DESCENDING\", got %s")
        :format(what, tostring(o.direction)))
    end
    if not (I.is_node(x) or I.is_tensor(x)) then x = ts.tensor(x) end
    axis = axis_arg(axis, what, -1)
    return x, axis, apply("top_k_indices", { i1 = -1, axis = axis, v1 = { largest, 1 },
      name = o.name and (what == "sort" and o.name .. "_indices" or o.name) }, { x, n = 1 }), o
  end
  --- argsort(x [, axis = -1] [, {direction = "ASCENDING", name=}]): the 1-based positions
  -- (int64) that sort x along axis; stable (equal values in index order), NaN largest.
  op { name = "argsort", fn = function(x, axis, opts)
    local _, _, idx = order("argsort", x, axis, opts)
    return idx
  end }
  --- sort(x [, axis = -1] [, {direction = "ASCENDING", name=}]): x sorted along axis.
  op { name = "sort", fn = function(x, axis, opts)
    local t, a, idx, o = order("sort", x, axis, opts)
    return apply("gather_elements", { axis = a, name = o.name }, { t, idx, n = 2 })
  end }

  ----------------------------------------------------------------- cumsum

  --- cumsum(x [, axis = 1] [, {exclusive=, reverse=, name=}]): running sums along axis
  -- (exclusive: without the entry itself; reverse: from the end).
  op { name = "cumsum", fn = function(x, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    local o = opts_of("cumsum", opts, { "exclusive", "reverse" })
    return apply("cumsum", { axis = axis_arg(axis, "cumsum", 1),
      v1 = { o.exclusive and 1 or 0, o.reverse and 1 or 0 }, name = o.name }, { x, n = 1 })
  end, grad = function(o, g)
    local at = attrs_of(o)
    return { node("cumsum", { axis = at.axis, v1 = { at.v1[1], 1 - at.v1[2] } }, g) }
  end }

  ------------------------------------------------------- matrix_band_part

  --- matrix_band_part(x, num_lower, num_upper [, {name=}]): x's innermost matrices with
  -- the entries more than num_lower below or num_upper above the diagonal zeroed
  -- (negative: keep that whole triangle). TF1's matrix_band_part.
  op { name = "matrix_band_part", fn = function(x, lower, upper, opts)
    local o = opts_of("matrix_band_part", opts)
    lower = int_arg(lower, "matrix_band_part: num_lower")
    upper = int_arg(upper, "matrix_band_part: num_upper")
    local band = { lower < 0 and math.mininteger or -lower, upper < 0 and math.maxinteger or upper }
    return apply("matrix_band_part", { v1 = band, name = o.name }, { x, n = 1 })
  end, grad = function(o, g)
    return { node("matrix_band_part", { v1 = attrs_of(o).v1 }, g) }
  end }

  ------------------------------------------------------------ broadcast_to

  --- broadcast_to(x, shape [, {name=}]): x repeated along size-1 (or missing
  -- leading) axes to shape (NumPy broadcasting of x's shape and shape).
  op { name = "broadcast_to", fn = function(x, shape, opts)
    local o = opts_of("broadcast_to", opts)
    return apply("broadcast_to", { v1 = I.int_list(shape, "broadcast_to: shape", 3), name = o.name },
      { x, n = 1 })
  end, grad = function(o, g) return { I.sum_like(g, o.inputs[1]) } end }

  ------------------------------------------------- reverse, reverse_sequence

  --- reverse(x, axis [, {name=}]): x with the order along each given axis (one or a list)
  -- reversed.
  op { name = "reverse", fn = function(x, axis, opts)
    local o = opts_of("reverse", opts)
    return apply("reverse", { axis = I.int_list(axis, "reverse: axis", 3), name = o.name },
      { x, n = 1 })
  end, grad = function(o, g) return { node("reverse", { axis = attrs_of(o).axis }, g) } end }

  --- reverse_sequence(x, seq_lengths, seq_axis [, batch_axis = 1] [, {name=}]): for each
  -- entry b along batch_axis, the first seq_lengths[b] entries along seq_axis reversed.
  op { name = "reverse_sequence", fn = function(x, lengths, seq_axis, batch_axis, opts)
    if opts == nil and is_opts(batch_axis) then batch_axis, opts = nil, batch_axis end
    local o = opts_of("reverse_sequence", opts)
    local sa = axis_arg(seq_axis, "reverse_sequence: seq_axis")
    if sa == nil then I.raise("reverse_sequence: seq_axis is required") end
    local ba = axis_arg(batch_axis, "reverse_sequence: batch_axis", 1)
    local v1 = { sa > 0 and sa - 1 or sa, ba > 0 and ba - 1 or ba }
    return apply("reverse_sequence", { v1 = v1, name = o.name }, { x, lengths, n = 2 }, IDX2)
  end, grad = function(o, g)
    return { node("reverse_sequence", { v1 = attrs_of(o).v1 }, g, o.inputs[2]) }
  end }

  ------------------------------------------ ops whose shape depends on values

  -- Applies dynamic op name (its output shape known only while running): a node when
  -- an input is one, else the value computed through a one-off graph (core.apply runs
  -- only ops of known output shape).
  local function dynamic(name, attrs, inputs)
    for i = 1, inputs.n do
      if I.is_node(inputs[i]) then return apply(name, attrs, inputs) end
    end
    local g = ts.Graph()
    for i = 1, inputs.n do inputs[i] = ts.constant(inputs[i], { graph = g }) end
    local y = apply(name, attrs, inputs)
    local sess <close> = ts.Session(g)
    return sess:run(y)
  end

  op { name = "where_indices", public = false, grad = false }
  -- ts.where(cond): the 1-based positions of cond's non-zero entries, [count, rank] (math.lua)
  function I.where_indices(cond, opts)
    local o = opts_of("where", opts)
    return dynamic("where_indices", { name = o.name }, { cond, n = 1 })
  end

  --- boolean_mask(tensor, mask [, axis = 1] [, {name=}]): the entries of tensor where mask
  -- (the shape of tensor's axes axis .. axis + rank(mask) - 1) is non-zero, those axes
  -- flattened into one; the others must have known sizes. As TF1 builds it: a gather at
  -- ts.where(mask), whose gradient it has.
  op { name = "boolean_mask", fn = function(t, mask, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    local o = opts_of("boolean_mask", opts)
    if not (I.is_node(t) or I.is_tensor(t)) then t = ts.tensor(t) end
    if not (I.is_node(mask) or I.is_tensor(mask)) then mask = ts.tensor(mask, "uint8") end
    local shape, mshape = t.shape, mask.shape
    if not shape or not mshape then I.raise("boolean_mask: the ranks of tensor and mask must be known") end
    local r, k = #shape, #mshape
    axis = axis_arg(axis, "boolean_mask", 1)
    local a = axis < 0 and axis + r + 1 or axis
    if k == 0 or a < 1 or a > r or k > r - a + 1 then
      I.raise(("boolean_mask: a mask of rank %d does not fit axis %d of a tensor of rank %d")
        :format(k, axis, r))
    end
    local new = {}
    for d = 1, a - 1 do new[#new + 1] = shape[d] end
    new[#new + 1] = -1
    for d = a + k, r do new[#new + 1] = shape[d] end
    for d = 1, r do
      if (d < a or d >= a + k) and shape[d] < 0 then
        I.raise(("boolean_mask: axis %d of the tensor must have a known size"):format(d))
      end
      local md = d >= a and d < a + k and mshape[d - a + 1]
      if md and shape[d] >= 0 and md >= 0 and shape[d] ~= md then
        I.raise(("boolean_mask: mask of shape {%s} does not match the tensor's shape {%s} at axis %d")
          :format(table.concat(mshape, ", "), table.concat(shape, ", "), a))
      end
    end
    local positions = ts.reshape(I.where_indices(ts.reshape(mask, { -1 })), { -1 })
    return ts.gather(ts.reshape(t, new), positions, a, { name = o.name })
  end }

  --- unique(x [, {axis=, sorted=, name=}]): the distinct entries of x (flattened), or with
  -- axis its distinct slices along axis; in order of first occurrence (TF1's unique), or
  -- sorted (lexicographically for slices). Returns y, idx (for each entry or slice of x its
  -- 1-based place in y), count (of each in x) and first (the 1-based position in x of each
  -- one's first occurrence); the last three int64.
  op { name = "unique", grad = false, fn = function(x, opts)
    local o = opts_of("unique", opts, { "axis", "sorted" })
    if not (I.is_node(x) or I.is_tensor(x)) then x = ts.tensor(x) end
    local axis = axis_arg(o.axis, "unique")
    local sorted = o.sorted and 1 or 0
    local function part(which, suffix)
      return dynamic("unique", { i1 = which, axis = axis, v1 = { sorted },
        name = o.name and o.name .. suffix }, { x, n = 1 })
    end
    local first = part(0, "_first")
    local y = ts.gather(axis and x or ts.reshape(x, { -1 }), first, axis or 1, { name = o.name })
    return y, part(1, "_idx"), part(2, "_count"), first
  end }
end
