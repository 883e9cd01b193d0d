-- A perceptron with fixed weights for the C host (host.c): scores = x W + b,
-- one row of x per sample, one column per class. Returns the predict function
-- and start, the same run yielding after each step (call it in a coroutine).
local ts = require "tensorslow"

local g = ts.Graph()
local W = ts.Variable({ { 1, -1 }, { 0.5, 2 }, { -2, 0.25 } }, { name = "W", graph = g })
local b = ts.Variable({ 0.5, -1 }, { name = "b", graph = g })
local x = ts.placeholder { name = "x", shape = { -1, 3 }, graph = g }
local scores = ts.matmul(x, W) + b
local sess = ts.Session(g)

local function predict(batch)
  return sess:run(scores, { [x] = batch })
end

local function start(batch)
  return sess:run(scores, { [x] = batch }, { yield_every = 1 })
end

return predict, start
