-- Streaming metrics (ts.metrics): accumulate over batches in local variables,
-- read with m.value, add a batch with m.update, start again with m.reset.
local ts = require "tensorslow"
local H = require "helpers"

local function int64(t) return ts.tensor(t, "int64") end

-- A graph with int64 placeholders labels and predictions, and a session.
local function setup()
  local g = ts.Graph()
  local labels = ts.placeholder { graph = g, dtype = "int64", shape = { -1 }, name = "labels" }
  local predictions = ts.placeholder { graph = g, dtype = "int64", shape = { -1 }, name = "predictions" }
  return g, labels, predictions, ts.Session(g)
end

local BATCHES = {
  { labels = { 1, 2, 3, 1 }, predictions = { 1, 2, 1, 3 } },
  { labels = { 2, 2, 3 }, predictions = { 2, 1, 3 } },
  { labels = { 1 }, predictions = { 1 } },
}

describe("metrics.accuracy", function()
  it("accumulates over batches; 0 before any; value read after the updates", function()
    local g, l, p, sess = setup()
    local acc = ts.metrics.accuracy(l, p)
    H.tensor(sess:run(acc.value), 0)
    local correct, total = 0, 0
    for _, b in ipairs(BATCHES) do
      assert.is_nil(sess:run(acc.update, { [l] = int64(b.labels), [p] = int64(b.predictions) }))
      for i = 1, #b.labels do
        total = total + 1
        if b.labels[i] == b.predictions[i] then correct = correct + 1 end
      end
      H.tensor(sess:run(acc.value), correct / total, "float64", 1e-15)
    end
    assert.equal(5 / 8, correct / total)
    H.tensor(acc.variables[1]:value(), 5)
    H.tensor(acc.variables[2]:value(), 8)
    assert.truthy(g)
    sess:close()
  end)

  it("value fetched beside update is the value before that batch", function()
    local _, l, p, sess = setup()
    local acc = ts.metrics.accuracy(l, p)
    local feed = { [l] = int64 { 1, 2 }, [p] = int64 { 1, 1 } }
    local r = sess:run({ acc.value, acc.update }, feed)
    H.tensor(r[1], 0)
    r = sess:run({ acc.value, acc.update }, feed)
    H.tensor(r[1], 0.5)
    H.tensor(sess:run(acc.value), 0.5)
    sess:close()
  end)

  it("reset starts again", function()
    local _, l, p, sess = setup()
    local acc = ts.metrics.accuracy(l, p)
    sess:run(acc.update, { [l] = int64 { 1, 2 }, [p] = int64 { 1, 1 } })
    assert.is_nil(sess:run(acc.reset))
    H.tensor(sess:run(acc.value), 0)
    H.tensor(acc.variables[2]:value(), 0)
    sess:run(acc.update, { [l] = int64 { 3, 3, 3 }, [p] = int64 { 3, 3, 1 } })
    H.tensor(sess:run(acc.value), 2 / 3, "float64", 1e-15)
    sess:close()
  end)

  it("compares labels and predictions of different dtypes (argmax of logits, uint8 labels)", function()
    local g = ts.Graph()
    local logits = ts.placeholder { graph = g, shape = { -1, 3 } }
    local labels = ts.placeholder { graph = g, dtype = "uint8", shape = { -1 } }
    local acc = ts.metrics.accuracy(labels, ts.argmax(logits, 2))
    local sess <close> = ts.Session(g)
    sess:run(acc.update, { [logits] = { { 0, 5, 1 }, { 9, 1, 1 }, { 0, 0, 2 } },
                           [labels] = ts.tensor({ 2, 2, 3 }, "uint8") })
    H.tensor(sess:run(acc.value), 2 / 3, "float64", 1e-15)
  end)

  it("names its nodes in a scope of its own: accuracy, accuracy_1, or name=", function()
    local g, l, p = setup()
    local a = ts.metrics.accuracy(l, p)
    local b = ts.metrics.accuracy(l, p)
    local c = ts.metrics.accuracy(l, p, { name = "train_acc" })
    assert.equal("accuracy", a.name)
    assert.equal("accuracy_1", b.name)
    assert.equal("train_acc", c.name)
    assert.equal("accuracy/total", a.variables[1].name)
    assert.equal("accuracy/count", a.variables[2].name)
    assert.equal("accuracy_1/total", b.variables[1].name)
    assert.equal("accuracy/value", a.value.name)
    assert.equal("accuracy/update", a.update.name)
    assert.equal("accuracy/reset", a.reset.name)
    assert.equal(g:get("train_acc/count"), c.variables[2])
    assert.equal("Metric(accuracy)", tostring(a))
  end)

  it("errors name the function and the value", function()
    local g, l, p = setup()
    H.fails(function() ts.metrics.accuracy(ts.tensor { 1 }, ts.tensor { 1 }) end,
      "metrics.accuracy: labels or predictions must be nodes (metrics accumulate in a graph's variables)")
    H.fails(function() ts.metrics.accuracy(l, "p") end,
      "metrics.accuracy: predictions must be a node, a tensor or an array, got string")
    local three = ts.placeholder { graph = g, dtype = "int64", shape = { 3 } }
    local four = ts.placeholder { graph = g, dtype = "int64", shape = { 4 } }
    H.fails(function() ts.metrics.accuracy(three, four) end,
      "metrics.accuracy: labels have shape [3] and predictions [4]; they must agree")
    H.fails(function() ts.metrics.accuracy(l, p, { weights = 1 }) end,
      "metrics.accuracy: unknown option 'weights' (options are name)")
    H.fails(function() ts.metrics.accuracy(l, p, { name = "" }) end,
      "accuracy: name must be a non-empty string")
  end)
end)

describe("metric variables", function()
  it("are local: not trainable, not saved by the Saver, listed by ts.local_variables", function()
    local g, l, p, sess = setup()
    local w = ts.Variable({ 1, 2 }, { graph = g, name = "w" })
    local acc = ts.metrics.accuracy(l, p)
    local m = ts.metrics.mean(ts.cast(l, "float64"))
    assert.same({ w }, ts.trainable_variables(g))
    assert.same({ w }, ts.global_variables(g))
    local locals = ts.local_variables(g)
    assert.same({ acc.variables[1], acc.variables[2], m.variables[1], m.variables[2] }, locals)
    local path = os.tmpname()
    ts.train.Saver():save(sess, path)
    local saved = ts.io.load_safetensors(path)
    local names = {}
    for k in pairs(saved) do names[#names + 1] = k end
    assert.same({ "w" }, names)
    -- and restoring leaves them alone
    sess:run(acc.update, { [l] = int64 { 1 }, [p] = int64 { 1 } })
    ts.train.Saver():restore(sess, path)
    H.tensor(sess:run(acc.value), 1)
    os.remove(path)
    sess:close()
  end)
end)

describe("metrics.mean", function()
  it("is the mean of every element of every batch, and reset clears a NaN", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, shape = { -1, 2 } }
    local m = ts.metrics.mean(x)
    local sess <close> = ts.Session(g)
    H.tensor(sess:run(m.value), 0)
    sess:run(m.update, { [x] = { { 1, 2 }, { 3, 4 } } })
    sess:run(m.update, { [x] = { { 10, 20 } } })
    H.tensor(sess:run(m.value), 40 / 6, "float64", 1e-15)
    sess:run(m.update, { [x] = { { 0 / 0, 1 } } })
    assert.is_true(sess:run(m.value):item() ~= sess:run(m.value):item())
    sess:run(m.reset)
    H.tensor(sess:run(m.value), 0)
    sess:run(m.update, { [x] = { { 5, 7 } } })
    H.tensor(sess:run(m.value), 6)
  end)

  it("of a scalar loss per batch (float32), as a running training loss", function()
    local g = ts.Graph()
    local x = ts.placeholder { graph = g, dtype = "float32", shape = { -1 } }
    local m = ts.metrics.mean(ts.reduce_mean(x), { name = "loss_mean" })
    local sess <close> = ts.Session(g)
    for _, b in ipairs { { 1, 2, 3 }, { 4 }, { 0.5, 0.5 } } do
      sess:run(m.update, { [x] = ts.tensor(b, "float32") })
    end
    H.tensor(sess:run(m.value), (2 + 4 + 0.5) / 3, "float64", 1e-15)
    assert.equal("loss_mean/total", m.variables[1].name)
  end)
end)

-- precision and recall by hand: positives are non-zero, or == class
local function by_hand(batches, class)
  local tp, fp, fn = 0, 0, 0
  for _, b in ipairs(batches) do
    for i = 1, #b.labels do
      local pl, pp
      if class then
        pl, pp = b.labels[i] == class, b.predictions[i] == class
      else
        pl, pp = b.labels[i] ~= 0, b.predictions[i] ~= 0
      end
      if pl and pp then tp = tp + 1 elseif pp then fp = fp + 1 elseif pl then fn = fn + 1 end
    end
  end
  return tp / (tp + fp), tp / (tp + fn), tp, fp, fn
end

describe("metrics.precision and metrics.recall", function()
  it("binary labels (non-zero is positive, TF1)", function()
    local batches = {
      { labels = { 1, 0, 1, 1, 0 }, predictions = { 1, 1, 0, 1, 0 } },
      { labels = { 0, 0, 1 }, predictions = { 1, 0, 1 } },
    }
    local _, l, p, sess = setup()
    local pr, rc = ts.metrics.precision(l, p), ts.metrics.recall(l, p)
    for _, b in ipairs(batches) do
      sess:run(ts.group(pr.update, rc.update), { [l] = int64(b.labels), [p] = int64(b.predictions) })
    end
    local want_p, want_r, tp, fp, fn = by_hand(batches)
    assert.same({ 3, 2, 1 }, { tp, fp, fn })
    H.tensor(sess:run(pr.value), want_p, "float64", 1e-15)
    H.tensor(sess:run(rc.value), want_r, "float64", 1e-15)
    assert.equal("precision/false_positives", pr.variables[2].name)
    assert.equal("recall/false_negatives", rc.variables[2].name)
    sess:close()
  end)

  it("one class against the rest (class=), over class labels", function()
    local _, l, p, sess = setup()
    for class = 1, 3 do
      local pr = ts.metrics.precision(l, p, { class = class })
      local rc = ts.metrics.recall(l, p, { class = class })
      for _, b in ipairs(BATCHES) do
        sess:run({ pr.update, rc.update }, { [l] = int64(b.labels), [p] = int64(b.predictions) })
      end
      local want_p, want_r = by_hand(BATCHES, class)
      H.tensor(sess:run(pr.value), want_p, "float64", 1e-15)
      H.tensor(sess:run(rc.value), want_r, "float64", 1e-15)
    end
    sess:close()
  end)

  it("are 0 with nothing predicted (precision) or nothing to find (recall)", function()
    local _, l, p, sess = setup()
    local pr, rc = ts.metrics.precision(l, p), ts.metrics.recall(l, p)
    sess:run({ pr.update, rc.update }, { [l] = int64 { 0, 0 }, [p] = int64 { 0, 0 } })
    H.tensor(sess:run(pr.value), 0)
    H.tensor(sess:run(rc.value), 0)
    sess:close()
  end)

  it("errors name the function and the value", function()
    local _, l, p = setup()
    H.fails(function() ts.metrics.precision(l, p, { class = 1.5 }) end,
      "metrics.precision: class must be an integer (a 1-based class index), got 1.5")
    H.fails(function() ts.metrics.recall(l, p, { threshold = 0.5 }) end,
      "metrics.recall: unknown option 'threshold' (options are class, name)")
  end)
end)

describe("metrics.confusion_matrix", function()
  it("counts labels (rows) against predictions (columns), int64, over batches", function()
    local _, l, p, sess = setup()
    local cm = ts.metrics.confusion_matrix(l, p, { num_classes = 3 })
    local want = { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } }
    for _, b in ipairs(BATCHES) do
      sess:run(cm.update, { [l] = int64(b.labels), [p] = int64(b.predictions) })
      for i = 1, #b.labels do
        local r, c = b.labels[i], b.predictions[i]
        want[r][c] = want[r][c] + 1
      end
    end
    local v = sess:run(cm.value)
    assert.equal("int64", v.dtype)
    assert.same(want, v:totable())
    assert.same({ { 2, 0, 1 }, { 1, 2, 0 }, { 1, 0, 1 } }, want)
    sess:run(cm.reset)
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } }, sess:run(cm.value):totable())
    sess:close()
  end)

  it("labels of any shape, uint8 or float", function()
    local g = ts.Graph()
    local l = ts.placeholder { graph = g, dtype = "uint8", shape = { 2, 2 } }
    local p = ts.placeholder { graph = g, shape = { 2, 2 } }
    local cm = ts.metrics.confusion_matrix(l, p, { num_classes = 2 })
    local sess <close> = ts.Session(g)
    sess:run(cm.update, { [l] = ts.tensor({ { 1, 2 }, { 2, 2 } }, "uint8"), [p] = { { 1, 1 }, { 2, 2 } } })
    assert.same({ { 1, 0 }, { 1, 2 } }, sess:run(cm.value):totable())
  end)

  it("a class outside 1..num_classes is an error of the update; num_classes is required", function()
    local _, l, p, sess = setup()
    local cm = ts.metrics.confusion_matrix(l, p, { num_classes = 3 })
    H.fails(function() sess:run(cm.update, { [l] = int64 { 1, 4 }, [p] = int64 { 1, 1 } }) end, "gather")
    H.fails(function() sess:run(cm.update, { [l] = int64 { 1, 1 }, [p] = int64 { 0, 1 } }) end, "gather")
    -- nothing was added
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } }, sess:run(cm.value):totable())
    H.fails(function() ts.metrics.confusion_matrix(l, p) end,
      "metrics.confusion_matrix: num_classes must be a positive integer, got nil")
    H.fails(function() ts.metrics.confusion_matrix(l, p, { num_classes = 0 }) end,
      "metrics.confusion_matrix: num_classes must be a positive integer, got 0")
    sess:close()
  end)
end)
