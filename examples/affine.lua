-- The tutorial's first graph: z = A x + b, computed by a Session.
local ts = require "tensorslow"

local g = ts.Graph()
g:as_default()

local A = ts.Variable({ { 1, 0 }, { 0, -1 } }, { name = "A" })
local b = ts.Variable({ 1, 1 }, { name = "b" })
local x = ts.placeholder { name = "x" }
local y = ts.matmul(A, x)
local z = y + b

local sess <close> = ts.Session()
print("z = A x + b for x = [1, 2]:")
print(sess:run(z, { [x] = { 1, 2 } }))
