-- tensorslow.mpi: data-parallel training over Open MPI, as Horovod does it for TF1: one
-- process per rank (`mpirun -np 4 lua5.4 train.lua`), every rank runs the same graph on its
-- own shard of the data, gradients are averaged by an allreduce (fused into few buffers),
-- variables start from rank 0's values.
--
-- Ranks are 0-based, as MPI numbers them (mpi.rank() is 0 .. mpi.size() - 1, and so are the
-- roots of broadcast and broadcast_variables and ts.data.batches' shard = {rank, size}).
-- MPI is initialised on the first call that needs it and finalised when the process exits;
-- a rank that exits with a non-zero status (an uncaught error: lua5.4 prints it and exits
-- with 1) aborts the whole job (MPI_Abort) instead of leaving the others blocked.
--
-- Collectives as graph ops (nodes: custom ops, ts.Operation, run on every rank in the
-- same order because every rank builds the same graph and so the same plan) and eagerly on
-- tensors. Gradients follow the convention that the loss being minimised is the sum of
-- every rank's loss (Horovod's): allreduce's gradient is the allreduce of the gradient,
-- allgather's the rank's own rows of the summed gradient, broadcast's the summed gradient
-- on the root and zeros elsewhere.
local ts = require "tensorslow"
local C = require "tensorslow.mpi_core"
local Session_mt = require("tensorslow.core").Session_mt

local mpi = {}
local is_node, is_tensor = ts.is_node, ts.is_tensor

--- rank(): this process's rank, 0-based. size(): the number of ranks.
mpi.rank, mpi.size = C.rank, C.size
--- init(): initialises MPI now (any other call does it on first use).
mpi.init = function() C.init() end
--- initialized(): whether MPI is initialised and not finalised (never initialises it).
mpi.initialized = C.initialized
--- barrier(): waits for every rank. wtime(): MPI_Wtime in seconds.
mpi.barrier, mpi.wtime = C.barrier, C.wtime
--- abort(message [, code]): prints the message with the rank and ends every rank.
mpi.abort = C.abort

local function check_opts(what, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_node(opts) or is_tensor(opts) then
    error(what .. ": options must be a table", 3)
  end
  for k in pairs(opts) do
    if not known[k] then error(("%s: unknown option '%s'"):format(what, tostring(k)), 3) end
  end
  return opts
end

local function as_tensor(x, what)
  if is_tensor(x) then return x end
  if type(x) == "number" or type(x) == "table" then return ts.tensor(x) end
  error(("%s: expected a node, a tensor or a number/table, got %s"):format(what, type(x)), 3)
end

local function same_shape(s) return s or nil end

local REDUCE_OPS = { sum = true, mean = true, max = true, min = true }

--- allreduce(x [, {op = "sum" | "mean" | "max" | "min", name=}]): every rank's x combined
-- by op (default "sum"), on every rank; same shape and dtype (mean: float only).
function mpi.allreduce(x, opts)
  opts = check_opts("allreduce", opts, { op = true, name = true })
  local op = opts.op or "sum"
  if not REDUCE_OPS[op] then
    error(("allreduce: op must be sum, mean, max or min, got %s"):format(tostring(op)), 2)
  end
  if not is_node(x) then return C.allreduce(as_tensor(x, "allreduce"), op) end
  if op == "mean" and x.dtype ~= "float32" and x.dtype ~= "float64" then
    error("allreduce: op 'mean' needs a float node, got " .. x.dtype, 2)
  end
  return ts.Operation {
    type = "MpiAllreduce", inputs = { x }, name = opts.name, dtype = x.dtype, shape = same_shape,
    compute = function(t) return C.allreduce(t, op) end,
    gradient = function(o, g)
      if op == "sum" or op == "mean" then return { mpi.allreduce(g, { op = op }) } end
      -- max/min: the summed gradient flows to the ranks holding the extreme value
      return { mpi.allreduce(g) * ts.cast(ts.equal(o.inputs[1], o), g.dtype) }
    end,
  }
end

--- allgather(x [, {name=}]): every rank's x concatenated along the first axis in rank
-- order (first dimensions may differ; dtype and the other dimensions may not).
function mpi.allgather(x, opts)
  opts = check_opts("allgather", opts, { name = true })
  if not is_node(x) then return (C.allgather(as_tensor(x, "allgather"))) end
  if x.shape and #x.shape == 0 then error("allgather: expected a node of rank >= 1, got a scalar", 2) end
  return ts.Operation {
    type = "MpiAllgather", inputs = { x }, name = opts.name, dtype = x.dtype,
    shape = function(s)
      if not s then return nil end
      local out = { table.unpack(s) }
      out[1] = -1
      return out
    end,
    compute = function(t) return (C.allgather(t)) end,
    gradient = function(_, g)
      return { ts.Operation {
        type = "MpiAllgatherGrad", inputs = { g, x }, dtype = g.dtype,
        shape = function(_, s) return s or nil end,
        compute = function(gt, xt)
          local rows = xt.shape[1]
          local counts = C.allgather(ts.tensor({ rows }, "int64"))
          local first = 1
          for r = 1, C.rank() do first = first + counts:get(r) end
          local summed = C.allreduce(gt, "sum")
          local size = summed.shape
          size[1] = rows
          local begin = {}
          for d = 1, #size do begin[d] = 1 end
          begin[1] = first
          if rows == 0 then return ts.zeros(size, gt.dtype) end
          return ts.slice(summed, begin, size)
        end,
      } }
    end,
  }
end

local function check_root(root, what)
  if math.type(root) ~= "integer" then
    error(("%s: root must be an integer rank (0-based), got %s"):format(what, tostring(root)), 3)
  end
  local size = C.size()
  if root < 0 or root >= size then
    error(("%s: root %d is not a rank (0..%d)"):format(what, root, size - 1), 3)
  end
end

--- broadcast(x, root [, {name=}]): root's x on every rank (root 0-based); every rank's x
-- must have root's dtype and shape.
function mpi.broadcast(x, root, opts)
  opts = check_opts("broadcast", opts, { name = true })
  check_root(root, "broadcast")
  if not is_node(x) then return C.broadcast(as_tensor(x, "broadcast"), root) end
  return ts.Operation {
    type = "MpiBroadcast", inputs = { x }, name = opts.name, dtype = x.dtype, shape = same_shape,
    compute = function(t) return C.broadcast(t, root) end,
    gradient = function(_, g)
      return { ts.Operation {
        type = "MpiBroadcastGrad", inputs = { g }, dtype = g.dtype, shape = same_shape,
        compute = function(gt)
          local summed = C.allreduce(gt, "sum")
          if C.rank() == root then return summed end
          return ts.zeros(gt.shape, gt.dtype)
        end,
      } }
    end,
  }
end

--- broadcast_variables(sess, root [, var_list]): assigns root's value of every variable of
-- the session's graph (or of var_list) on every rank, so all ranks start alike.
function mpi.broadcast_variables(sess, root, var_list)
  check_root(root, "broadcast_variables")
  if debug.getmetatable(sess) ~= Session_mt then
    error("broadcast_variables: expected a session, got " .. (is_node(sess) and "a node" or type(sess)), 2)
  end
  local list = var_list or ts.global_variables(sess:graph())
  for i, v in ipairs(list) do
    if not is_node(v) or v.op ~= "variable" then
      error(("broadcast_variables: entry %d of var_list is not a variable"):format(i), 2)
    end
    v:assign(C.broadcast(v:value(), root))
  end
end

------------------------------------------------------------ DistributedOptimizer

local DTYPE_BYTES = { float32 = 4, float64 = 8, int64 = 8, uint8 = 1 }

-- Horovod's tensor fusion: the gradients (in var order, per dtype) packed into flat
-- buffers of at most fusion_bytes (a larger gradient gets a buffer of its own), one
-- allreduce (mean) per buffer, then cut back into the gradients' shapes.
local function fused_mean(grads_and_vars, fusion_bytes)
  local buckets, open = {}, {}
  for i, gv in ipairs(grads_and_vars) do
    local g, v = gv[1], gv[2]
    if g ~= nil then
      local shape = v.shape
      local n = 1
      for _, d in ipairs(shape) do n = n * d end
      local bytes = n * DTYPE_BYTES[g.dtype]
      local b = open[g.dtype]
      if not b or b.bytes + bytes > fusion_bytes then
        b = { bytes = 0, items = {}, dtype = g.dtype }
        buckets[#buckets + 1], open[g.dtype] = b, b
      end
      b.bytes = b.bytes + bytes
      b.items[#b.items + 1] = { i = i, g = g, n = n, shape = shape }
    end
  end
  local out = {}
  for i, gv in ipairs(grads_and_vars) do out[i] = { gv[1], gv[2] } end
  for k, b in ipairs(buckets) do
    local name = ("DistributedOptimizer/allreduce_%d"):format(k)
    if #b.items == 1 then
      local it = b.items[1]
      out[it.i][1] = mpi.allreduce(it.g, { op = "mean", name = name })
    else
      local flat, sizes = {}, {}
      for j, it in ipairs(b.items) do flat[j], sizes[j] = ts.reshape(it.g, { it.n }), it.n end
      local pieces = ts.split(mpi.allreduce(ts.concat(flat, 1), { op = "mean", name = name }), sizes)
      for j, it in ipairs(b.items) do out[it.i][1] = ts.reshape(pieces[j], it.shape) end
    end
  end
  return out, #buckets
end

local Distributed = {}
Distributed.__index = function(self, k)
  local m = Distributed[k]
  if m ~= nil then return m end
  local inner = rawget(self, "optimizer")
  local v = inner[k]
  if type(v) == "function" then return function(s, ...) return v(s == self and inner or s, ...) end end
  return v
end

--- DistributedOptimizer(opt [, {fusion_bytes=64 MiB}]): wraps any optimizer:
-- compute_gradients averages the gradients over the ranks (fused allreduces), and
-- apply_gradients / minimize apply them with opt.
function mpi.DistributedOptimizer(opt, opts)
  opts = check_opts("DistributedOptimizer", opts, { fusion_bytes = true })
  if type(opt) ~= "table" or type(opt.compute_gradients) ~= "function"
    or type(opt.apply_gradients) ~= "function" then
    error("DistributedOptimizer: expected an optimizer (ts.train.*Optimizer)", 2)
  end
  local fb = opts.fusion_bytes or 64 * 1024 * 1024
  if math.type(fb) ~= "integer" or fb < 0 then
    error("DistributedOptimizer: fusion_bytes must be an integer >= 0, got " .. tostring(fb), 2)
  end
  return setmetatable({ optimizer = opt, fusion_bytes = fb, kind = "Distributed" .. opt.kind }, Distributed)
end

--- opt:compute_gradients(loss [, var_list]): the wrapped optimizer's gradients averaged
-- over every rank; opt.allreduce_count says into how many allreduces they were fused.
function Distributed:compute_gradients(loss, var_list)
  local gv = self.optimizer:compute_gradients(loss, var_list)
  local out, count = fused_mean(gv, self.fusion_bytes)
  rawset(self, "allreduce_count", count)
  return out
end

--- opt:apply_gradients(grads_and_vars [, opts]): the wrapped optimizer's.
function Distributed:apply_gradients(grads_and_vars, opts)
  return self.optimizer:apply_gradients(grads_and_vars, opts)
end

--- opt:minimize(loss [, var_list] [, {global_step=, var_list=}]): averaged gradients
-- applied by the wrapped optimizer (the global step as its minimize does it).
function Distributed:minimize(loss, var_list, opts)
  if opts == nil and type(var_list) == "table" and not is_node(var_list) and var_list[1] == nil
    and next(var_list) ~= nil then
    var_list, opts = nil, var_list
  end
  opts = check_opts(self.kind .. ".minimize", opts, { global_step = true, var_list = true })
  local gv = self:compute_gradients(loss, var_list or opts.var_list)
  local gs = opts.global_step
  if gs == nil and is_node(loss) then gs = ts.train.get_global_step(loss.graph) end
  return self.optimizer:apply_gradients(gv, { global_step = gs or nil })
end

function Distributed:__tostring()
  return ("DistributedOptimizer(%s, fusion_bytes=%d)"):format(tostring(self.optimizer), self.fusion_bytes)
end

return mpi
