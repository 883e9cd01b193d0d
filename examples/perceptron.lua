-- The tutorial's perceptron: two Gaussian clouds (centred at (-2, -2) and
-- (2, 2)), a softmax output p = softmax(X W + b), J = -sum(c log p),
-- gradient descent with learning rate 0.01 for 1000 steps.
local ts = require "tensorslow"

ts.seed(1)
local red = ts.randn { 50, 2 } - 2
local blue = ts.randn { 50, 2 } + 2
local points, classes = {}, {}
for i, row in ipairs(red:totable()) do points[i], classes[i] = row, { 1, 0 } end
for i, row in ipairs(blue:totable()) do points[50 + i], classes[50 + i] = row, { 0, 1 } end

local g = ts.Graph()
g:as_default()
local X = ts.placeholder { name = "X", shape = { -1, 2 } }
local c = ts.placeholder { name = "c", shape = { -1, 2 } }
local W = ts.Variable(ts.randn { 2, 2 }, { name = "W" })
local b = ts.Variable(ts.randn { 2 }, { name = "b" })
local p = ts.softmax(ts.matmul(X, W) + b)
local J = -ts.reduce_sum(ts.reduce_sum(c * ts.log(p), 2))
local minimization_op = ts.train.GradientDescentOptimizer(0.01):minimize(J)

local feed = { [X] = points, [c] = classes }
local sess <close> = ts.Session()
for step = 0, 999 do
  local loss = sess:run({ J, minimization_op }, feed)[1]:item()
  if step % 100 == 0 then print(("Step: %4d Loss: %.6f"):format(step, loss)) end
end
print("W =")
print(W:value())
print("b =")
print(b:value())
