-- ts.layers: dense layers.
-- Loaded by tensorslow/init.lua as require("tensorslow.layers")(ts).
return function(ts)
  local layers = {}
  ts.layers = layers

  -- base, base_1, base_2, ... : the first whose "<name>/kernel" is free.
  local function free_name(graph, base)
    local name, k = base, 0
    while graph:get(name .. "/kernel") or graph:get(name .. "/bias") do
      k = k + 1
      name = base .. "_" .. k
    end
    return name
  end

  --- dense(x, units [, {activation=, name="dense", dtype=, use_bias=true,
  --   kernel_initializer=glorot_uniform, bias_initializer=zeros}]):
  -- activation(x kernel + bias), with variables "<name>/kernel" (in x units)
  -- and "<name>/bias" (units). x's last dimension must be known.
  function layers.dense(x, units, opts)
    opts = opts or {}
    if not ts.is_node(x) then error("dense: x must be a node", 2) end
    if math.type(units) ~= "integer" or units < 1 then error("dense: units must be a positive integer", 2) end
    local shape = x.shape
    local n_in = shape and shape[#shape]
    if not n_in or n_in < 0 then
      error("dense: the last dimension of x must be known (give the placeholder a shape)", 2)
    end
    local dtype = opts.dtype or x.dtype
    local graph = x.graph
    local name = free_name(graph, opts.name or "dense")
    local kinit = opts.kernel_initializer or ts.initializers.glorot_uniform
    local binit = opts.bias_initializer or ts.initializers.zeros
    local kernel = ts.Variable(kinit({ n_in, units }, { dtype = dtype }),
      { graph = graph, name = name .. "/kernel", dtype = dtype })
    local y = ts.matmul(x, kernel)
    if opts.use_bias ~= false then
      local bias = ts.Variable(binit({ units }, { dtype = dtype }),
        { graph = graph, name = name .. "/bias", dtype = dtype })
      y = y + bias
    end
    if opts.activation then y = opts.activation(y) end
    return y
  end
end
