-- Streaming metrics (ts.metrics): values accumulated over batches in local
-- variables (float64 totals: not trainable, not saved by the Saver). Each
-- metric is a table of three nodes, instead of TF1's (value, update_op) pair:
--   m.update  adds a batch (run it with the batch fed; it returns nothing)
--   m.value   the metric of every batch added since the last reset (a pure
--             node: run it on its own, after the updates; fetched in the same
--             run as update it gives the value before that batch, as a loss
--             fetched beside an optimizer step does)
--   m.reset   sets the totals back to 0 (run it on its own)
-- plus m.variables (the totals) and m.name (the name scope of its nodes).
-- Loaded by tensorslow/init.lua as require("tensorslow.metrics")(ts, I).
return function(ts, I)
  local core, is_node, is_tensor, check_options = I.core, I.is_node, I.is_tensor, I.check_options
  local metrics = {}
  ts.metrics = metrics

  local function kind(v)
    return is_node(v) and "a node" or is_tensor(v) and "a tensor" or type(v)
  end

  local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

  -- The graph of the inputs (one must be a node), checked to be values.
  local function graph_of(what, names, ...)
    local graph
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if is_node(v) then
        graph = graph or v.graph
      elseif not (is_tensor(v) or (type(v) == "table" and v[1] ~= nil)) then
        error(("%s: %s must be a node, a tensor or an array, got %s"):format(what, names[i], kind(v)), 3)
      end
    end
    if not graph then
      error(("%s: %s must be nodes (metrics accumulate in a graph's variables)"):format(what,
        table.concat(names, " or ")), 3)
    end
    return graph
  end

  -- Known shapes of a and b must agree.
  local function same_shape(what, a, b)
    local sa = (is_node(a) or is_tensor(a)) and a.shape
    local sb = (is_node(b) or is_tensor(b)) and b.shape
    if not sa or not sb then return end
    local ok = #sa == #sb
    for i = 1, math.min(#sa, #sb) do
      ok = ok and (sa[i] < 0 or sb[i] < 0 or sa[i] == sb[i])
    end
    if not ok then
      error(("%s: labels have shape %s and predictions %s; they must agree"):format(what,
        shape_str(sa), shape_str(sb)), 3)
    end
  end

  -- Labels and predictions of different dtypes are compared as float64.
  local function comparable(a, b)
    local da = (is_node(a) or is_tensor(a)) and a.dtype
    local db = (is_node(b) or is_tensor(b)) and b.dtype
    if da and db and da ~= db then return ts.cast(a, "float64"), ts.cast(b, "float64") end
    return a, b
  end

  local function f64(x) return x.dtype == "float64" and x or ts.cast(x, "float64") end
  local function count_of(x) return ts.reduce_sum(ts.ones_like(f64(x))) end
  -- a / b, 0 where b is 0 (TF's div_no_nan)
  local function ratio(a, b) return ts.where(ts.greater(b, 0), a / b, 0) end

  local Metric = {}
  Metric.__index = Metric
  function Metric:__tostring() return ("Metric(%s)"):format(self.name) end

  -- The metric `what` named `name` (made unique) in graph: local variables
  -- {name, shape} from specs, batch() -> their increments (float64 nodes of the
  -- variables' shapes), value(variables...) -> the value node.
  local function make(what, name, graph, specs, batch, value)
    if name ~= nil and (type(name) ~= "string" or name == "") then
      error(("%s: name must be a non-empty string, got %s"):format(what, kind(name)), 3)
    end
    return I.name_scope(graph, name or what, function(scope)
      local vars, zeros = {}, {}
      for i, spec in ipairs(specs) do
        zeros[i] = ts.zeros(spec[2], "float64")
        vars[i] = ts.Variable(zeros[i], { graph = graph, name = spec[1] })
        I.not_trainable[vars[i]] = true
        I.local_variables[vars[i]] = true
      end
      local inc = { batch() }
      local one = ts.constant(1, { graph = graph, dtype = "float64" })
      local ups = {}
      for i, v in ipairs(vars) do -- v -= 1 (-inc)
        ups[i] = core.node(graph, "apply_gradient_descent", specs[i][1] .. "/update", nil, v, -inc[i], one)
      end
      local update = core.node(graph, "group", "update", nil, table.unpack(ups))
      -- no C op stores a value: a custom op assigns the zeros (so a NaN total is reset too)
      local zero = core.custom(graph, "reset_metric", "zero_totals", "float64", {}, function()
        for i, v in ipairs(vars) do v:assign(zeros[i]) end
        return ts.tensor(0.0)
      end)
      local reset = core.node(graph, "group", "reset", nil, zero)
      local v = ts.identity(value(table.unpack(vars)), { name = "value" })
      return setmetatable({ value = v, update = update, reset = reset, variables = vars,
        name = scope.name }, Metric)
    end)
  end

  local NAME_OPTS = { name = true }

  --- accuracy(labels, predictions [, {name="accuracy"}]): the fraction of entries
  -- where predictions equal labels (same shape; e.g. class indices from argmax),
  -- over every batch added; 0 before any. Locals "accuracy/total", "accuracy/count".
  function metrics.accuracy(labels, predictions, opts)
    local what = "accuracy"
    opts = check_options("metrics.accuracy", opts, NAME_OPTS)
    local graph = graph_of("metrics.accuracy", { "labels", "predictions" }, labels, predictions)
    same_shape("metrics.accuracy", labels, predictions)
    return make(what, opts.name, graph, { { "total", {} }, { "count", {} } }, function()
      local l, p = comparable(labels, predictions)
      local correct = ts.cast(ts.equal(l, p), "float64")
      return ts.reduce_sum(correct), count_of(correct)
    end, ratio)
  end

  --- mean(values [, {name="mean"}]): the mean of every element of every batch added
  -- (values of any shape, cast to float64); 0 before any. Locals "mean/total", "mean/count".
  function metrics.mean(values, opts)
    opts = check_options("metrics.mean", opts, NAME_OPTS)
    local graph = graph_of("metrics.mean", { "values" }, values)
    return make("mean", opts.name, graph, { { "total", {} }, { "count", {} } }, function()
      local v = f64(values)
      return ts.reduce_sum(v), count_of(v)
    end, ratio)
  end

  local PR_OPTS = { class = true, name = true }
  -- 1 where x is a positive (x == class, or x ~= 0 without a class), else 0.
  local function positive(x, class)
    return ts.cast(class and ts.equal(x, class) or ts.not_equal(x, 0), "float64")
  end

  local function pr(what, labels, predictions, opts, second, frac)
    opts = check_options("metrics." .. what, opts, PR_OPTS)
    local graph = graph_of("metrics." .. what, { "labels", "predictions" }, labels, predictions)
    same_shape("metrics." .. what, labels, predictions)
    local class = opts.class
    if class ~= nil and not math.tointeger(class) then
      error(("metrics.%s: class must be an integer (a 1-based class index), got %s"):format(what,
        tostring(class)), 3)
    end
    return make(what, opts.name, graph, { { "true_positives", {} }, { second, {} } }, function()
      local l, p = comparable(labels, predictions)
      local pl, pp = positive(l, class), positive(p, class)
      return frac(pl, pp)
    end, function(tp, other) return ratio(tp, tp + other) end)
  end

  --- precision(labels, predictions [, {class=, name="precision"}]): true positives /
  -- (true + false positives) over every batch added (0 when nothing was predicted
  -- positive). Positive: non-zero (TF1's boolean labels), or equal to class when given
  -- (that class against the rest). Locals "precision/true_positives", ".../false_positives".
  function metrics.precision(labels, predictions, opts)
    return pr("precision", labels, predictions, opts, "false_positives", function(pl, pp)
      return ts.reduce_sum(pl * pp), ts.reduce_sum((1 - pl) * pp)
    end)
  end

  --- recall(labels, predictions [, {class=, name="recall"}]): true positives / (true
  -- positives + false negatives), as precision. Locals ".../true_positives",
  -- ".../false_negatives".
  function metrics.recall(labels, predictions, opts)
    return pr("recall", labels, predictions, opts, "false_negatives", function(pl, pp)
      return ts.reduce_sum(pl * pp), ts.reduce_sum(pl * (1 - pp))
    end)
  end

  local CM_OPTS = { num_classes = true, name = true }
  --- confusion_matrix(labels, predictions, {num_classes=, name="confusion_matrix"}):
  -- value[i][j] (int64, num_classes x num_classes) counts the entries of class i
  -- (1-based labels) predicted as j, over every batch added. A label or prediction
  -- outside 1..num_classes is a run-time error of the update. Local
  -- "confusion_matrix/total" (float64).
  function metrics.confusion_matrix(labels, predictions, opts)
    local what = "metrics.confusion_matrix"
    opts = check_options(what, opts, CM_OPTS)
    local k = opts.num_classes
    if math.type(k) ~= "integer" or k < 1 then
      error(("%s: num_classes must be a positive integer, got %s"):format(what, tostring(k)), 2)
    end
    local graph = graph_of(what, { "labels", "predictions" }, labels, predictions)
    same_shape(what, labels, predictions)
    return make("confusion_matrix", opts.name, graph, { { "total", { k, k } } }, function()
      -- one-hot rows by gather, which checks the range (one_hot would give zeros)
      local eye = ts.constant(ts.eye(k), { graph = graph, name = "eye" })
      local function hot(x)
        if not (is_node(x) or is_tensor(x)) then x = ts.tensor(x) end
        if x.dtype ~= "int64" and x.dtype ~= "uint8" then x = ts.cast(x, "int64") end
        return ts.gather(eye, ts.reshape(x, { -1 }))
      end
      return ts.matmul(hot(labels), hot(predictions), { transpose_a = true })
    end, function(total) return ts.cast(total, "int64") end)
  end
end
