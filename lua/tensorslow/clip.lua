-- Clipping (TensorFlow 1.x's clip_ops): ts.clip_by_value, ts.clip_by_norm,
-- ts.clip_by_global_norm, composed of graph ops (so they work on nodes and on
-- tensors, and gradients flow through them as through TF's).
-- Loaded by tensorslow/init.lua as require("tensorslow.clip")(ts, I).
return function(ts, I)
  local is_node, is_tensor, check_options = I.is_node, I.is_tensor, I.check_options

  local function kind(v)
    return is_node(v) and "a node" or is_tensor(v) and "a tensor" or type(v)
  end

  local function check_t(what, t)
    if not (is_node(t) or is_tensor(t)) then
      error(("%s: t must be a node or a tensor, got %s"):format(what, kind(t)), 3)
    end
    if t.dtype ~= "float32" and t.dtype ~= "float64" then
      error(("%s: t must be float32 or float64, got %s (cast it)"):format(what, t.dtype), 3)
    end
  end

  local function bound(what, name, v)
    if type(v) == "number" then
      if v ~= v then error(("%s: %s is NaN"):format(what, name), 3) end
      return v
    end
    if is_node(v) or is_tensor(v) then return v end
    error(("%s: %s must be a number, a node or a tensor, got %s"):format(what, name, kind(v)), 3)
  end

  local CV_OPTS = { name = true }
  --- clip_by_value(t, clip_value_min, clip_value_max [, {name=}]): t with values
  -- below min set to min and above max to max (bounds broadcast against t). The
  -- gradient flows to t where min <= t <= max (ends included, as TF's), to the
  -- bounds where they were taken. NaN stays NaN.
  function ts.clip_by_value(t, lo, hi, opts)
    local what = "clip_by_value"
    check_t(what, t)
    lo, hi = bound(what, "clip_value_min", lo), bound(what, "clip_value_max", hi)
    opts = check_options(what, opts, CV_OPTS)
    if type(lo) == "number" and type(hi) == "number" and lo > hi then
      error(("clip_by_value: clip_value_min %s is greater than clip_value_max %s"):format(
        tostring(lo), tostring(hi)), 2)
    end
    local inner = ts.where(ts.greater(t, hi), hi, t)
    return ts.where(ts.less(t, lo), lo, inner, opts.name and { name = opts.name } or nil)
  end

  local function clip_norm_arg(what, c)
    if type(c) == "number" then
      if c ~= c or c <= 0 then
        error(("%s: clip_norm must be positive, got %s"):format(what, tostring(c)), 3)
      end
      return c
    end
    if is_node(c) or is_tensor(c) then
      local n = 1
      for _, d in ipairs(c.shape or {}) do n = d < 0 and n or n * d end
      if n == 1 then return c end
      error(("%s: clip_norm must be a scalar, got shape [%s]"):format(what,
        table.concat(c.shape, ", ")), 3)
    end
    error(("%s: clip_norm must be a positive number or a scalar node, got %s"):format(what, kind(c)), 3)
  end

  local function same_dtype(x, dtype)
    if type(x) == "number" or x.dtype == dtype then return x end
    return ts.cast(x, dtype)
  end

  local CN_OPTS = { axes = true, name = true }
  --- clip_by_norm(t, clip_norm [, {axes=, name=}]): t clip_norm / max(||t||, clip_norm),
  -- the L2 norm over axes (1-based; default all), so each slice's norm is at most
  -- clip_norm. A zero norm leaves t (zeros) as it is, with a zero gradient, not NaN.
  function ts.clip_by_norm(t, clip_norm, opts)
    local what = "clip_by_norm"
    check_t(what, t)
    clip_norm = same_dtype(clip_norm_arg(what, clip_norm), t.dtype)
    opts = check_options(what, opts, CN_OPTS)
    local axes = opts.axes
    if axes ~= nil then
      axes = I.int_list(axes, "clip_by_norm: axes", 2)
      local rank = t.shape and #t.shape
      for i, a in ipairs(axes) do
        if a == 0 or (rank and (a > rank or a < -rank)) then
          error(("clip_by_norm: axes[%d] = %d is not an axis of t (rank %s; axes are 1-based)"):format(i, a,
            rank and tostring(rank) or "unknown"), 2)
        end
      end
    end
    -- TF1's: the square root only of the positive sums, so a zero norm has gradient 0
    local l2sum = ts.reduce_sum(t * t, { axis = axes, keepdims = true })
    local pos = ts.greater(l2sum, 0)
    local l2norm = ts.where(pos, ts.sqrt(ts.where(pos, l2sum, 1)), l2sum)
    -- maximum(l2norm, clip_norm), the tie's gradient to the norm (TF's Maximum)
    local denom = ts.where(ts.greater_equal(l2norm, clip_norm), l2norm, clip_norm)
    return ts.divide(t * clip_norm, denom, opts.name and { name = opts.name } or nil)
  end

  --- clip_by_global_norm(list, clip_norm [, {use_norm=}]) -> clipped list, global norm:
  -- every t scaled by clip_norm / max(global_norm, clip_norm), global_norm =
  -- sqrt(sum of ||t||^2) over the list (in the first entry's dtype). nil entries
  -- (gradients of variables the loss does not use) are skipped and stay nil (the
  -- result has the list's n, or its largest index, as n). A zero global norm leaves
  -- the list as it is; an infinite or NaN one makes every entry NaN (TF1). The list
  -- may also be compute_gradients' { {grad, var}, ... }: the result is then pairs
  -- with the clipped gradients, for apply_gradients. use_norm: a global norm to use
  -- instead of computing it.
  local GN_OPTS = { use_norm = true }
  function ts.clip_by_global_norm(list, clip_norm, opts)
    local what = "clip_by_global_norm"
    if type(list) ~= "table" or is_node(list) or is_tensor(list) then
      error(("%s: expected an array of nodes or tensors (nil entries allowed), got %s"):format(what,
        kind(list)), 2)
    end
    clip_norm = clip_norm_arg(what, clip_norm)
    opts = check_options(what, opts, GN_OPTS)
    local n = rawget(list, "n")
    if math.type(n) ~= "integer" then
      n = 0
      for k in pairs(list) do
        if math.type(k) == "integer" and k > n then n = k end
      end
    end
    -- pairs {grad, var}: clip the grads, keep the vars
    local pairs_form = false
    for i = 1, n do
      local e = rawget(list, i)
      if type(e) == "table" and not is_node(e) and not is_tensor(e) then pairs_form = true end
    end
    local ts_list = {}
    for i = 1, n do
      local e = rawget(list, i)
      if pairs_form then
        if type(e) ~= "table" or is_node(e) or is_tensor(e) then
          error(("%s: entry %d is %s, not a {grad, var} pair like the others"):format(what, i, kind(e)), 2)
        end
        e = e[1]
      end
      if e ~= nil then
        if not (is_node(e) or is_tensor(e)) then
          error(("%s: entry %d is %s, not a node or a tensor"):format(what, i, kind(e)), 2)
        end
        if e.dtype ~= "float32" and e.dtype ~= "float64" then
          error(("%s: entry %d has dtype %s; clipping needs float32 or float64"):format(what, i, e.dtype), 2)
        end
      end
      ts_list[i] = e
    end
    local first
    for i = 1, n do
      if ts_list[i] ~= nil then first = ts_list[i]; break end
    end
    local norm = opts.use_norm
    if norm ~= nil then
      if not (is_node(norm) or is_tensor(norm) or type(norm) == "number") then
        error(("%s: use_norm must be a number, a node or a tensor, got %s"):format(what, kind(norm)), 2)
      end
    elseif first then
      local dtype, total = first.dtype, nil
      for i = 1, n do
        local e = ts_list[i]
        if e ~= nil then
          local sq = same_dtype(ts.reduce_sum(e * e), dtype)
          total = total and total + sq or sq
        end
      end
      norm = ts.sqrt(total)
    else
      norm = 0 -- nothing to clip
    end
    local out = { n = n }
    if first then
      -- clip_norm min(1 / norm, 1 / clip_norm): 1 at a zero norm (1 / 0 = inf); adding
      -- norm - norm makes it NaN for an infinite or NaN norm
      local dtype = first.dtype
      local nrm = same_dtype(norm, dtype)
      local c = same_dtype(clip_norm, dtype)
      local scale
      if type(nrm) == "number" and type(c) == "number" then
        scale = c * math.min(1 / nrm, 1 / c) + (nrm - nrm)
      else
        scale = c * ts.minimum(1 / nrm, 1 / c) + (nrm - nrm)
      end
      for i = 1, n do
        local e = ts_list[i]
        if e ~= nil then out[i] = e * same_dtype(scale, e.dtype) end
      end
    end
    if pairs_form then
      for i = 1, n do
        local e = rawget(list, i)
        out[i] = { out[i], e[2] }
      end
    end
    return out, norm
  end
end
