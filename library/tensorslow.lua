---@meta tensorslow
-- LuaLS annotations for tensorslow: point "Lua.workspace.library" at this folder so that
-- editors complete and check tensorslow code. Axes and indices are 1-based.

---@alias ts.dtype "float32"|"float64"|"int64"|"uint8"
---@alias ts.value ts.Tensor|number|table
---@alias ts.input ts.Node|ts.Tensor|number|table
---@alias ts.axis integer|integer[]|nil

---@class ts.Tensor
---@field shape integer[] a fresh table of the sizes
---@field dtype ts.dtype
---@operator add(ts.input): ts.Tensor
---@operator sub(ts.input): ts.Tensor
---@operator mul(ts.input): ts.Tensor
---@operator div(ts.input): ts.Tensor
---@operator pow(ts.input): ts.Tensor
---@operator unm: ts.Tensor
---@operator len: integer
local Tensor = {}
---@return integer
function Tensor:dim() end
---@return integer
function Tensor:numel() end
---@return table|number
function Tensor:totable() end
---@return number
function Tensor:item() end
---@param ... integer 1-based indices
---@return number
function Tensor:get(...) end
---@param ... integer|number indices, then the value
---@return ts.Tensor
function Tensor:set(...) end
---@param shape integer[] one entry may be -1
---@return ts.Tensor
function Tensor:reshape(shape) end
---@return ts.Tensor
function Tensor:copy() end
---@param dtype ts.dtype
---@return ts.Tensor
function Tensor:cast(dtype) end
---@param b ts.input
---@param opts? {transpose_a?: boolean, transpose_b?: boolean}
---@return ts.Tensor
function Tensor:matmul(b, opts) end

---@class ts.Node
---@field name string unique in its graph
---@field op string
---@field inputs ts.Node[]
---@field consumers ts.Node[]
---@field graph ts.Graph
---@field shape integer[]|nil inferred shape (-1 = unknown dimension, nil = unknown rank)
---@field dtype ts.dtype
---@field id integer
---@operator add(ts.input): ts.Node
---@operator sub(ts.input): ts.Node
---@operator mul(ts.input): ts.Node
---@operator div(ts.input): ts.Node
---@operator pow(ts.input): ts.Node
---@operator unm: ts.Node
local Node = {}
---@return ts.Tensor value of a variable or constant (a copy)
function Node:value() end
---@param value ts.value
---@return ts.Node
function Node:assign(value) end
---@param b ts.input
---@param opts? {transpose_a?: boolean, transpose_b?: boolean, name?: string}
---@return ts.Node
function Node:matmul(b, opts) end

---@class ts.Graph
local Graph = {}
---@return ts.Graph
function Graph:as_default() end
---@return ts.Node[]
function Graph:operations() end
---@return ts.Node[]
function Graph:placeholders() end
---@return ts.Node[]
function Graph:variables() end
---@return ts.Node[]
function Graph:nodes() end
---@param name string
---@return ts.Node|nil
function Graph:get(name) end
---@param path string
---@return string
function Graph:write_dot(path) end

---@class ts.Profile
---@field steps {name: string, op: string, seconds: number, bytes: integer}[] in execution order
---@field nodes {name: string, op: string, seconds: number, bytes: integer}[] by cost
---@field ops {op: string, count: integer, seconds: number, bytes: integer}[] by cost
---@field total number seconds

---@class ts.Session
local Session = {}
---@param fetch ts.Node|ts.Node[]|table<string, ts.Node>
---@param feed? table<ts.Node, ts.value>
---@param opts? {profile?: boolean}
---@return ts.Tensor|ts.Tensor[]|table<string, ts.Tensor>
---@return ts.Profile|nil
function Session:run(fetch, feed, opts) end
function Session:close() end
---@return {allocations: integer, plans: integer}
function Session:stats() end

---@class tensorslow
local ts = {}

---@param value ts.value
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.tensor(value, dtype) end
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.zeros(shape, dtype) end
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.ones(shape, dtype) end
---@param shape integer[]
---@param value number
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.fill(shape, value, dtype) end
---@param n integer
---@param m? integer
---@return ts.Tensor
function ts.eye(n, m) end
---@return ts.Tensor
function ts.arange(...) end
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.rand(shape, dtype) end
---@param shape integer[]
---@param dtype? ts.dtype
---@return ts.Tensor
function ts.randn(shape, dtype) end
---@param seed integer
function ts.seed(seed) end
---@param n integer
function ts.set_num_threads(n) end

---@return ts.Graph
function ts.Graph() end
---@return ts.Graph
function ts.get_default_graph() end
---@param opts? {shape?: integer[], dtype?: ts.dtype, name?: string}
---@return ts.Node
function ts.placeholder(opts) end
---@param value ts.value
---@param opts? {name?: string, dtype?: ts.dtype}
---@return ts.Node
function ts.Variable(value, opts) end
---@param value ts.value
---@param opts? {name?: string, dtype?: ts.dtype}
---@return ts.Node
function ts.constant(value, opts) end
---@param graph? ts.Graph
---@return ts.Session
function ts.Session(graph) end

---@param a ts.input
---@param b ts.input
---@param opts? {transpose_a?: boolean, transpose_b?: boolean, name?: string}
---@return ts.Node|ts.Tensor
function ts.matmul(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.add(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.subtract(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.multiply(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.divide(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.pow(a, b, opts) end
---@return ts.Node|ts.Tensor
function ts.negative(x, opts) end

---@param what ts.Graph|ts.Node|ts.Node[]
---@return string
function ts.dot(what) end
---@param what? ts.Graph|ts.Node[]
---@return string text
---@return integer total parameters
function ts.summary(what) end

return ts
