-- The tutorial's multi-layer perceptron: four clusters in an XOR layout, a
-- 2-2-2 network with a sigmoid hidden layer and a softmax output, trained by
-- gradient descent (learning rate 0.03, 1000 steps) on J = -sum(c log p).
-- Data and initial weights come from the reference run of the original Python
-- TensorSlow (spec/fixtures/tensorslow_mlp.lua), so the losses printed here
-- are the reference's (spec/mlp_spec.lua checks every one of them).
local ts = require "tensorslow"

local here = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
local ref = dofile(here .. "/../spec/fixtures/tensorslow_mlp.lua")

local g = ts.Graph()
g:as_default()

local X = ts.placeholder { name = "X", shape = { -1, 2 } }
local c = ts.placeholder { name = "c", shape = { -1, 2 } }

local W_hidden = ts.Variable(ref.initial.W_hidden, { name = "W_hidden" })
local b_hidden = ts.Variable(ref.initial.b_hidden, { name = "b_hidden" })
local hidden = ts.sigmoid(ts.matmul(X, W_hidden) + b_hidden)

local W_output = ts.Variable(ref.initial.W_output, { name = "W_output" })
local b_output = ts.Variable(ref.initial.b_output, { name = "b_output" })
local p = ts.softmax(ts.matmul(hidden, W_output) + b_output)

local J = -ts.reduce_sum(ts.reduce_sum(c * ts.log(p), 2))
local minimization_op = ts.train.GradientDescentOptimizer(ref.learning_rate):minimize(J)

-- `lua5.4 examples/mlp.lua --dot mlp.dot` also writes the graph in Graphviz DOT
-- (the README's picture: `dot -Tsvg mlp.dot -o doc/mlp.svg`).
if arg and arg[1] == "--dot" then g:write_dot(assert(arg[2], "--dot needs a path")) end

local feed = { [X] = ref.X, [c] = ref.c }
local sess <close> = ts.Session()
for step = 0, ref.steps - 1 do
  local loss = sess:run({ J, minimization_op }, feed)[1]:item()
  if step % 100 == 0 then print(("Step: %4d Loss: %.10f"):format(step, loss)) end
end
print(("Loss after the last update: %.10f"):format(sess:run(J, feed):item()))
for _, v in ipairs { W_hidden, b_hidden, W_output, b_output } do
  print(v.name .. " =")
  print(v:value())
end
