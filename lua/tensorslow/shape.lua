-- Shape op wrappers (and transpose). Every op is ts.OP(x, ...), node:OP(...)
-- and tensor:OP(...), all through ts.apply and one C kernel
-- (src/ops_shape.c, src/ops_linalg.c). Axes, perm, begin and indices are
-- 1-based here (negative from the end); the wrappers convert what the C
-- attributes store 0-based. A trailing options table may give {name=}.
-- Gradients sit beside each op; those of the "like" helper ops (src/ops_grad.c,
-- shapes taken from a "like" input at run time) at the end.
-- Loaded by tensorslow/init.lua as require("tensorslow.shape")(ts, I).
return function(ts, I)
  local op, apply, is_opts, with_name = I.op, I.apply, I.is_opts, I.with_name
  local is_node, is_tensor = I.is_node, I.is_tensor
  local need, attrs_of, node = I.need, I.attrs_of, I.node

  local int_of, int_list0 = I.int, I.int_list
  local function int_list(v, what) return int_list0(v, what, 3) end

  --- transpose(x [, perm] [, {name=}]): perm is 1-based; default reverses the axes.
  op { name = "transpose", fn = function(x, perm, opts)
    if opts == nil and is_opts(perm) then perm, opts = nil, perm end
    local attrs = {}
    if perm ~= nil then
      local p = int_list(perm, "transpose: perm")
      for i = 1, #p do
        if p[i] < 1 then error(("transpose: perm entry %d is %d (axes are 1-based)"):format(i, p[i]), 2) end
        p[i] = p[i] - 1
      end
      attrs.v1 = p
    end
    return apply("transpose", with_name(attrs, opts, "transpose"), { x, n = 1 })
  end, grad = function(o, g)
    local perm = attrs_of(o).v1
    if not perm then return { ts.transpose(g) } end
    local inv = {}
    for i = 1, #perm do inv[perm[i] + 1] = i end
    return { ts.transpose(g, inv) }
  end }

  -- reshape, squeeze, expand_dims: g takes x's run-time shape back
  local function reshape_grad(o, g) return { node("reshape_like", nil, g, o.inputs[1]) } end

  --- reshape(x, shape [, {name=}]): one entry may be -1.
  op { name = "reshape", fn = function(x, shape, opts)
    return apply("reshape", with_name({ v1 = int_list(shape, "reshape: shape") }, opts, "reshape"),
      { x, n = 1 })
  end, grad = reshape_grad }

  --- squeeze(x [, axis] [, {name=}]): removes the given size-1 axes (all when nil).
  op { name = "squeeze", fn = function(x, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    return apply("squeeze", with_name({ axis = axis }, opts, "squeeze"), { x, n = 1 })
  end, grad = reshape_grad }

  --- expand_dims(x, axis [, {name=}]): inserts a size-1 axis at position axis
  -- (1 .. rank+1; -1 appends).
  op { name = "expand_dims", fn = function(x, axis, opts)
    if not int_of(axis) then
      error(("expand_dims: axis must be an integer, got %s"):format(tostring(axis)), 2)
    end
    return apply("expand_dims", with_name({ axis = axis }, opts, "expand_dims"), { x, n = 1 })
  end, grad = reshape_grad }

  -- The inputs of a list op: list (array), or for the method form x then list
  -- (or a single node/tensor).
  local function list_inputs(first, rest, what)
    local inputs = {}
    local function add(v) inputs[#inputs + 1] = v end
    -- read raw, at most 65 entries (a lying __len cannot make this loop long)
    local function add_all(list)
      for i = 1, math.min(rawlen(list), 65) do add(rawget(list, i)) end
    end
    if is_node(first) or is_tensor(first) then
      add(first)
      if is_node(rest) or is_tensor(rest) then add(rest)
      elseif type(rest) == "table" then add_all(rest)
      elseif rest ~= nil then
        error(("%s: expected a node, a tensor or a list to join to the first, got %s")
          :format(what, type(rest)), 3)
      end
    elseif type(first) == "table" then
      add_all(first)
    else
      error(what .. ": expected a list of nodes or tensors", 3)
    end
    if #inputs == 0 then error(what .. ": the list is empty", 3) end
    if #inputs > 64 then error(what .. ": more than 64 inputs", 3) end
    inputs.n = #inputs
    return inputs
  end

  -- ts.concat(list, axis) or x:concat(y_or_list, axis).
  local function list_op(name, grad)
    op { name = name, grad = grad, fn = function(a, b, c, d)
      local inputs, axis, opts
      if is_node(a) or is_tensor(a) then
        inputs, axis, opts = list_inputs(a, b, name), c, d
      else
        inputs, axis, opts = list_inputs(a, nil, name), b, c
      end
      if is_opts(axis) and opts == nil then axis, opts = nil, axis end
      return apply(name, with_name({ axis = axis or 1 }, opts, name), inputs)
    end }
  end
  --- concat(list, axis): joins along an existing axis (default 1).
  -- Gradient: each input's part of g, its offset taken from the inputs' run-time shapes.
  list_op("concat", function(o, g)
    local xs, axis = o.inputs, attrs_of(o).axis or 1
    local out = {}
    for k in ipairs(xs) do
      out[k] = need(k) and node("concat_part", { i1 = k, axis = axis }, g, table.unpack(xs)) or nil
    end
    return out
  end)
  --- stack(list, axis): joins along a new axis (default 1).
  list_op("stack", function(o, g)
    local axis = attrs_of(o).axis or 1
    local out = {}
    for k, x in ipairs(o.inputs) do
      out[k] = need(k) and node("reshape_like", nil, ts.gather(g, { k }, axis), x) or nil
    end
    return out
  end)

  local function slice_attrs(begin, size)
    local b = int_list(begin, "slice: begin")
    for i = 1, #b do
      if b[i] == 0 then error(("slice: begin %d is 0 (indices are 1-based)"):format(i), 3) end
      if b[i] > 0 then b[i] = b[i] - 1 end
    end
    local attrs = { v1 = b }
    if size ~= nil then attrs.v2 = int_list(size, "slice: size") end
    return attrs
  end

  --- slice(x, begin, size): begin 1-based (negative from the end), size -1 = to the end.
  op { name = "slice", fn = function(x, begin, size, opts)
    if opts == nil and is_opts(size) then size, opts = nil, size end
    return apply("slice", with_name(slice_attrs(begin, size), opts, "slice"), { x, n = 1 })
  end, grad = function(o, g)
    return { node("pad_like", { v1 = attrs_of(o).v1 }, g, o.inputs[1]) }
  end }

  local function shape_of(x)
    if is_node(x) or is_tensor(x) then return x.shape end
    return ts.tensor(x).shape
  end

  --- split(x, n_or_sizes, axis): a Lua array of pieces (through slice); n equal
  -- pieces or the given sizes (one may be -1). The split axis must have a known size.
  op { name = "split", fn = function(x, spec, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    I.op_options("split", opts)
    axis = axis or 1
    if not (is_node(x) or is_tensor(x)) then x = ts.tensor(x) end
    local shape = shape_of(x)
    if shape == nil then error("split: the rank of the input must be known", 2) end
    local r = #shape
    if not int_of(axis) then error(("split: axis must be an integer, got %s"):format(tostring(axis)), 2) end
    axis = int_of(axis)
    local ax = axis < 0 and axis + r + 1 or axis
    if ax < 1 or ax > r then
      error(("split: axis %s is out of range for rank %d"):format(tostring(axis), r), 2)
    end
    local dim = shape[ax]
    if dim < 0 then error(("split: the size of axis %d must be known"):format(ax), 2) end
    local sizes = {}
    if int_of(spec) then
      spec = int_of(spec)
      if spec < 1 or dim % spec ~= 0 then
        error(("split: axis %d of size %d cannot be split into %d equal pieces"):format(ax, dim, spec), 2)
      end
      for i = 1, spec do sizes[i] = dim // spec end
    else
      sizes = int_list(spec, "split: sizes")
      local hole, total = nil, 0
      for i, s in ipairs(sizes) do
        if s == -1 and not hole then hole = i
        elseif s < 0 then error(("split: size %d is invalid"):format(s), 2)
        else total = total + s end
      end
      if hole and total <= dim then sizes[hole] = dim - total; total = dim end
      if total ~= dim then
        error(("split: sizes add up to %d, axis %d has size %d"):format(total, ax, dim), 2)
      end
    end
    local out, start = {}, 1
    for i, s in ipairs(sizes) do
      local begin, size = {}, {}
      for d = 1, r do begin[d], size[d] = 1, -1 end
      begin[ax], size[ax] = start, s
      local o = opts and opts.name and { name = opts.name .. "_" .. i } or nil
      out[i] = ts.slice(x, begin, size, o)
      start = start + s
    end
    return out
  end }

  --- gather(x, indices [, axis]): indices int64/uint8 (Lua tables become int64),
  -- 1-based; an index out of range is an error when the op runs.
  op { name = "gather", fn = function(x, indices, axis, opts)
    if opts == nil and is_opts(axis) then axis, opts = nil, axis end
    return apply("gather", with_name({ axis = axis or 1 }, opts, "gather"), { x, indices, n = 2 },
      { nil, "int64" })
  end, grad = function(o, g)
    local x, idx = o.inputs[1], o.inputs[2]
    return { node("gather_like", { axis = attrs_of(o).axis }, g, idx, x) }
  end }

  --- tile(x, multiples)
  op { name = "tile", fn = function(x, multiples, opts)
    return apply("tile", with_name({ v1 = int_list(multiples, "tile: multiples") }, opts, "tile"),
      { x, n = 1 })
  end, grad = function(o, g) -- tile_like keeps the multiples (v1) for its own gradient
    return { node("tile_like", { v1 = attrs_of(o).v1 }, g, o.inputs[1]) }
  end }

  --- pad(x, paddings {{before, after}, ...} [, constant_value = 0])
  op { name = "pad", fn = function(x, paddings, value, opts)
    if opts == nil and is_opts(value) then value, opts = nil, value end
    if type(paddings) ~= "table" or is_node(paddings) or is_tensor(paddings) then
      error("pad: paddings must be {{before, after}, ...}", 2)
    end
    local before, after = {}, {}
    for i = 1, rawlen(paddings) do
      local p = rawget(paddings, i)
      local b, a = type(p) == "table" and int_of(rawget(p, 1)), type(p) == "table" and int_of(rawget(p, 2))
      if not (b and a) then
        local got = type(p) ~= "table" and type(p)
          or ("{%s, %s}"):format(tostring(rawget(p, 1)), tostring(rawget(p, 2)))
        error(("pad: paddings[%d] must be {before, after} integers, got %s"):format(i, got), 2)
      end
      before[i], after[i] = b, a
    end
    if value ~= nil and type(value) ~= "number" then error("pad: constant_value must be a number", 2) end
    return apply("pad", with_name({ v1 = before, v2 = after, f1 = value or 0 }, opts, "pad"), { x, n = 1 })
  end, grad = function(o, g)
    return { node("slice_like", { v1 = attrs_of(o).v1 }, g, o.inputs[1]) }
  end }

  --- cast(x, dtype)
  op { name = "cast", fn = function(x, dtype, opts)
    if type(dtype) ~= "string" then error("cast: dtype must be a string", 2) end
    return apply("cast", with_name({ dtype = dtype }, opts, "cast"), { x, n = 1 })
  end, grad = function(o, g)
    local x = o.inputs[1]
    local float = { float32 = true, float64 = true }
    if not float[x.dtype] or not float[o.dtype] then return {} end
    return { x.dtype == g.dtype and g or ts.cast(g, x.dtype) }
  end }

  --- one_hot(indices, depth [, {dtype=, name=}]): 1-based indices give rows with a
  -- 1 at that position; 0 or an index above depth gives a row of zeros.
  op { name = "one_hot", grad = false, fn = function(indices, depth, opts)
    if not int_of(depth) then
      error(("one_hot: depth must be an integer, got %s"):format(tostring(depth)), 2)
    end
    local attrs = { i1 = int_of(depth), dtype = is_opts(opts) and opts.dtype or "float64" }
    return apply("one_hot", with_name(attrs, opts, "one_hot", { "dtype" }), { indices, n = 1 }, { "int64" })
  end }

  -- identity, stop_gradient (same kernel; only their gradients differ),
  -- zeros_like, ones_like.
  op { name = "identity", kind = "unary", dx = function(_, _, g) return g end }
  for _, name in ipairs { "stop_gradient", "zeros_like", "ones_like" } do
    op { name = name, kind = "unary", grad = false }
  end

  ------------------------------------------------------------ the helpers' own

  op { name = "tile_like", public = false, grad = function(o, g)
    local m = attrs_of(o).v1
    if not m then error("gradient of tile_like: the multiples are not known", 0) end
    return { need(1) and ts.tile(g, m) or nil }
  end }
  op { name = "concat_part", public = false, grad = function(o, g)
    if not need(1) then return {} end
    local at, parts = attrs_of(o), {}
    for j = 2, #o.inputs do
      parts[j - 1] = j - 1 == at.i1 and g or ts.zeros_like(o.inputs[j])
    end
    return { ts.concat(parts, at.axis) }
  end }
  op { name = "gather_like", public = false, grad = function(o, g)
    return { need(1) and ts.gather(g, o.inputs[2], attrs_of(o).axis) or nil }
  end }
  op { name = "reshape_like", public = false, grad = function(o, g)
    return { need(1) and node("reshape_like", nil, g, o.inputs[1]) or nil }
  end }
  op { name = "slice_like", public = false, grad = function(o, g)
    return { need(1) and node("pad_like", { v1 = attrs_of(o).v1 }, g, o.inputs[1]) or nil }
  end }
  op { name = "pad_like", public = false, grad = function(o, g)
    return { need(1) and node("slice_like", { v1 = attrs_of(o).v1 }, g, o.inputs[1]) or nil }
  end }
  -- checks a user gradient's shape at run time (grad.lua)
  op { name = "ensure_shape_like", public = false, grad = function(_, g) return { g } end }
end
