-- Small-CNN inference at batch 1 and 8 (issue 19): examples/cnn_model.lua's "bn" network in
-- evaluation mode (training = 0: moving statistics, no dropout), float32, channels_last,
-- logits into an out= tensor. Prints "cnn_infer_b<batch> <seconds per call>" (median of REPS
-- repetitions of K calls after a warm-up) at TS_THREADS threads; bench/cnn_infer_peer.py
-- prints the same keys for PyTorch.
local ts = require "tensorslow"
ts.set_num_threads(tonumber(os.getenv("TS_THREADS")) or ts.get_num_threads())
local median = dofile("bench/median.lua")
local REPS = tonumber(os.getenv("REPS")) or 7
ts.seed(1)
ts.Graph():as_default()
local m = dofile("examples/cnn_model.lua") { model = "bn" }
local s = ts.Session()
local OFF = ts.tensor(0, "uint8")
for _, b in ipairs { 1, 8 } do
  local feed = { [m.x] = ts.rand({ b, 28, 28, 1 }, "float32"), [m.training] = OFF }
  local o = { out = ts.zeros({ b, 10 }, "float32") }
  local K = b == 1 and 200 or 50
  local t = median(function() for _ = 1, K do s:run(m.logits, feed, o) end end, REPS) / K
  print(("cnn_infer_b%d %.9g"):format(b, t))
end
