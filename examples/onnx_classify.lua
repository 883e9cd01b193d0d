-- Classifies Fashion-MNIST test images with an ONNX image classifier: by default the small
-- CNN trained in PyTorch and exported by torch.onnx.export (spec/fixtures/make_onnx_cnn.py),
-- loaded with ts.onnx.load; prints the top-3 classes with their probabilities per image.
--
--   lua5.4 examples/onnx_classify.lua [MODEL.onnx [FIRST [COUNT]]]
--
-- MODEL takes images [batch, 1, 28, 28] float32 in [0, 1] (its first input) and gives one
-- logit per class (its first output); FIRST (1-based, default 1) and COUNT (default 5) pick
-- the test images, from Debian's dataset-fashion-mnist.
local ts = require "tensorslow"

local CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
  "Sneaker", "Bag", "Ankle boot" }
local DATA = "/usr/share/datasets/fashion-mnist/"

local here = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
local path = arg[1] or here .. "/../spec/fixtures/onnx_cnn.onnx"
local first, count = math.tointeger(tonumber(arg[2] or "1")), math.tointeger(tonumber(arg[3] or "5"))
if not first or first < 1 or not count or count < 1 or first + count - 1 > 10000 then
  io.stderr:write("usage: lua5.4 examples/onnx_classify.lua [MODEL.onnx [FIRST [COUNT]]]"
    .. " (1 <= FIRST, FIRST + COUNT - 1 <= 10000)\n")
  os.exit(2)
end

local model = ts.onnx.load(path)
print(("%s: opset %d, producer %s, %d variable(s)"):format(path, model.opset,
  model.producer ~= "" and model.producer or "?", #model.variables))

local images = ts.io.load_idx(DATA .. "t10k-images-idx3-ubyte.gz")
local labels = ts.io.load_idx(DATA .. "t10k-labels-idx1-ubyte.gz")
local x = ts.slice(images, { first, 1, 1 }, { count, -1, -1 }):cast("float32") * (1 / 255)
x = x:reshape { count, 1, 28, 28 }

local sess <close> = ts.Session(model.graph)
local probs = sess:run(ts.softmax(model.outputs[1]), { [model.inputs[1]] = x })
for i = 1, count do
  local p = probs[i]:totable()
  local order = {}
  for k = 1, #p do order[k] = k end
  table.sort(order, function(a, b) return p[a] > p[b] end)
  local top = {}
  for k = 1, 3 do top[k] = ("%s %.1f%%"):format(CLASSES[order[k]], 100 * p[order[k]]) end
  print(("image %5d (%s): %s"):format(first + i - 1, CLASSES[labels[first + i - 1] + 1],
    table.concat(top, ", ")))
end
