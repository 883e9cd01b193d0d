-- The convolutional network of examples/fashion_mnist_cnn.lua, also timed by bench/cnn.lua
-- (bench/cnn_peer.py is the same network in PyTorch).
--
--   local model = dofile("examples/cnn_model.lua"){model = "bn"|"deep", data_format = ...}
--
-- Returns {x = , y = , training = , logits = , loss = , correct = } in the default graph:
-- x images [batch, 28, 28, 1] (channels_last, the default) or [batch, 1, 28, 28]
-- (channels_first), float32 in [0, 1]; y labels 1..10 (int64); training a uint8 scalar
-- placeholder (1: dropout on, batch statistics; 0: evaluation).
-- "bn": conv 5x5 32 -> batch norm -> relu -> max_pool 2 -> conv 5x5 64 -> batch norm -> relu
-- -> max_pool 2 -> dense 256 -> relu -> dropout 0.5 -> dense 10.
-- "deep": TensorFlow 1.x's "Deep MNIST for experts": conv 5x5 32 -> relu -> max_pool 2 ->
-- conv 5x5 64 -> relu -> max_pool 2 -> dense 1024 -> relu -> dropout 0.5 -> dense 10.
local ts = require "tensorslow"

return function(opts)
  local model = opts.model or "bn"
  local df = opts.data_format or "channels_last"
  local first = df == "channels_first"
  local x = ts.placeholder { shape = first and { -1, 1, 28, 28 } or { -1, 28, 28, 1 },
                             dtype = "float32", name = "x" }
  local y = ts.placeholder { shape = { -1 }, dtype = "int64", name = "y" }
  local training = ts.placeholder { shape = {}, dtype = "uint8", name = "training" }
  local L = ts.layers
  local function conv_block(h, filters, name)
    if model == "deep" then
      h = L.conv2d(h, filters, 5, { padding = "same", data_format = df, activation = ts.relu,
                                    name = name })
    else
      h = L.conv2d(h, filters, 5, { padding = "same", data_format = df, use_bias = false,
                                    name = name })
      -- momentum 0.99 (TensorFlow's default): the moving statistics average about the last
      -- hundred batches (a run of a few dozen steps evaluates poorly: use --epochs >= 1)
      h = ts.relu(L.batch_normalization(h, { axis = first and 2 or -1, training = training,
                                             momentum = 0.99, name = name .. "_bn" }))
    end
    return L.max_pooling2d(h, 2, 2, { data_format = df })
  end
  local h = conv_block(x, 32, "conv1")
  h = conv_block(h, 64, "conv2")
  h = L.dense(L.flatten(h), model == "deep" and 1024 or 256, { activation = ts.relu, name = "fc1" })
  h = L.dropout(h, { rate = 0.5, training = training })
  local logits = L.dense(h, 10, { name = "output" })
  local loss = ts.reduce_mean(ts.sparse_softmax_cross_entropy_with_logits { labels = y, logits = logits })
  local correct = ts.reduce_sum(ts.cast(ts.equal(ts.argmax(logits, -1), y), "float32"))
  return { x = x, y = y, training = training, logits = logits, loss = loss, correct = correct }
end
