-- The ONNX image classifier for the C host onnx_host.c: loads the model file given as the
-- chunk's argument and returns classify(batch) -> the class probabilities, [batch, classes]
-- (the softmax of the model's first output, fed its first input).
local ts = require "tensorslow"

local path = ...
local model = ts.onnx.load(path)
local probs = ts.softmax(model.outputs[1])
local sess = ts.Session(model.graph)

return function(batch)
  return sess:run(probs, { [model.inputs[1]] = batch })
end
