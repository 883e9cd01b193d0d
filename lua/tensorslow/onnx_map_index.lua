-- ONNX import converters of the index ops (lua/tensorslow/index.lua): GatherND,
-- GatherElements, ScatterND, ScatterElements, Scatter, TopK, CumSum, Trilu, Expand,
-- ReverseSequence. ONNX indices are 0-based (negative from the end); tensorslow's
-- are 1-based (negative from the end), so non-negative ones get 1 added; ONNX axes
-- a >= 0 become a + 1. Required by lua/tensorslow/onnx.lua after onnx_map.lua.
return function(reg, ts, I)
  -- ONNX indices as tensorslow's: i + 1 where i >= 0 (a tensor when i is one)
  local function one_based(i)
    if i.dtype ~= "int64" then i = ts.cast(i, "int64") end
    return i + ts.cast(ts.greater_equal(i, 0), "int64")
  end
  local function axis_of(a) return a >= 0 and a + 1 or a end
  -- an index input: its constant value when known (converted at import), else a node
  local function indices(n, k) return one_based(n:const(k) or n.inputs[k]) end
  -- the single integer of constant input k
  local function const_int(n, k, what)
    local t = n:need_const(k, what)
    if t:numel() ~= 1 then n:fail(("%s must hold one value, got %d"):format(what, t:numel())) end
    return math.tointeger(t:reshape({ 1 }):cast("int64"):totable()[1])
  end

  reg("GatherND", function(n)
    return ts.gather_nd(n.inputs[1], indices(n, 2), { batch_dims = n:attr("batch_dims", 0), name = n.name })
  end)

  reg("GatherElements", function(n)
    return ts.gather_elements(n.inputs[1], indices(n, 2), axis_of(n:attr("axis", 0)), { name = n.name })
  end)

  local ND = { none = "tensor_scatter_nd_update", add = "tensor_scatter_nd_add",
    mul = "tensor_scatter_nd_mul", max = "tensor_scatter_nd_max", min = "tensor_scatter_nd_min" }
  reg("ScatterND", function(n)
    local red = n:attr("reduction", "none")
    local op = ND[red]
    if not op then n:fail(("attribute reduction = %s is not supported"):format(red)) end
    return I.apply(op, { name = n.name }, { n.inputs[1], indices(n, 2), n.inputs[3], n = 3 })
  end)

  local REDUCTIONS = { none = true, add = true, mul = true, max = true, min = true }
  local function scatter_elements(n)
    local red = n:attr("reduction", "none")
    if not REDUCTIONS[red] then n:fail(("attribute reduction = %s is not supported"):format(red)) end
    return ts.scatter_elements(n.inputs[1], indices(n, 2), n.inputs[3], axis_of(n:attr("axis", 0)),
      { reduction = red, name = n.name })
  end
  reg("ScatterElements", scatter_elements)
  reg("Scatter", scatter_elements)

  reg("TopK", function(n)
    local k = n:attr("k") or const_int(n, 2, "k")
    local values, idx = ts.top_k(n.inputs[1], k, { axis = axis_of(n:attr("axis", -1)),
      largest = n:attr("largest", 1) ~= 0, name = n.name })
    return { values, idx - 1 }
  end)

  reg("CumSum", function(n)
    return ts.cumsum(n.inputs[1], axis_of(const_int(n, 2, "axis")), { exclusive = n:attr("exclusive", 0) ~= 0,
      reverse = n:attr("reverse", 0) ~= 0, name = n.name })
  end)

  reg("Trilu", function(n)
    local k = n.inputs[2] and const_int(n, 2, "k") or 0
    local band = n:attr("upper", 1) ~= 0 and { k, math.maxinteger } or { math.mininteger, k }
    return I.apply("matrix_band_part", { v1 = band, name = n.name }, { n.inputs[1], n = 1 })
  end)

  reg("Expand", function(n)
    local x, s = n.inputs[1], n:const(2)
    if s then
      s = s:cast("int64")
      return ts.broadcast_to(x, s:reshape({ s:numel() }):totable(), { name = n.name })
    end
    -- a shape fed at run time: a Lua op broadcasting with the value it gets (as onnx_map.lua
    -- does for Reshape and Tile); its gradient sums g back to x's shape
    local k, xs = n.inputs[2].shape and n.inputs[2].shape[1], x.shape
    if not k or k < 0 then n:fail("the shape input's length must be known") end
    local decl
    if xs then
      decl = {}
      for i = 1, math.max(k, #xs) do decl[i] = -1 end
    end
    return ts.Operation { type = "onnx_expand", inputs = { x, n.inputs[2] }, dtype = x.dtype,
      shape = decl,
      compute = function(t, shape)
        return ts.broadcast_to(t, shape:cast("int64"):reshape({ -1 }):totable())
      end,
      gradient = function(op, g) return { I.sum_like(g, op.inputs[1]) } end }
  end)

  reg("ReverseSequence", function(n)
    return ts.reverse_sequence(n.inputs[1], n.inputs[2], axis_of(n:attr("time_axis", 0)),
      axis_of(n:attr("batch_axis", 1)), { name = n.name })
  end)

  -- ops whose output shape depends on values
  reg("NonZero", function(n)
    return ts.transpose(ts.where(n.inputs[1])) - 1
  end)

  reg("Compress", function(n)
    local x, cond = n.inputs[1], n:const(2) or n.inputs[2]
    local axis = n:attr("axis")
    if axis == nil then
      x, axis = ts.reshape(x, { -1 }), 1
    else
      axis = axis_of(axis)
    end
    local shape = x.shape
    local a = shape and (axis < 0 and #shape + axis + 1 or axis)
    local dim, len = shape and shape[a], cond.shape and cond.shape[1]
    if not (dim and len and dim >= 0 and len >= 0) then
      n:fail("the sizes of the condition and of the input's axis must be known")
    end
    if len > dim then n:fail(("condition of length %d is longer than the axis (%d)"):format(len, dim)) end
    -- a condition shorter than the axis leaves the rest out
    if len < dim then cond = ts.pad(cond, { { 0, dim - len } }) end
    return ts.boolean_mask(x, cond, axis, { name = n.name })
  end)

  reg("Unique", function(n)
    local axis = n:attr("axis")
    local y, idx, count, first = ts.unique(n.inputs[1], { axis = axis and axis_of(axis),
      sorted = n:attr("sorted", 1) ~= 0, name = n.name })
    return { y, first - 1, idx - 1, count }
  end)
end
