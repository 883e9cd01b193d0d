---@meta tensorslow.mpi
-- LuaLS annotations for tensorslow.mpi (require "tensorslow.mpi"): data-parallel training
-- over Open MPI. Ranks are 0-based, as MPI's. spec/mpi_spec.lua checks that the names here
-- are exactly the module's.
-- Stubs only (never run): their parameters are unused on purpose.
-- luacheck: no unused

---@alias mpi.reduce_op "sum"|"mean"|"max"|"min"

---@class tensorslow.mpi
local mpi = {}

--- This process's rank, 0 .. size() - 1 (initialises MPI on first use).
---@return integer
function mpi.rank() end
--- The number of ranks.
---@return integer
function mpi.size() end
--- Initialises MPI now (any call that needs it does so on first use); it is finalised when
--- the process exits with status 0, and the job is aborted when a rank exits otherwise.
function mpi.init() end
--- Whether MPI is initialised and not finalised (never initialises it).
---@return boolean
function mpi.initialized() end
--- Waits for every rank.
function mpi.barrier() end
--- MPI_Wtime: seconds since some time in the past.
---@return number
function mpi.wtime() end
--- Prints the message with the rank and ends every rank of the job (MPI_Abort).
---@param message string
---@param code? integer exit status (default 1)
function mpi.abort(message, code) end

--- Every rank's x combined by op (default "sum"; "mean" for float dtypes only), on every
--- rank, same shape and dtype. A node gives a node (its gradient: the allreduce of the
--- gradient, or for max/min the summed gradient where x holds the extreme); a tensor (or a
--- number/table) gives a tensor at once. Every rank must call it in the same order with the
--- same dtype and size, else every rank raises.
---@generic T: ts.Node|ts.Tensor
---@param x T|number|table
---@param opts? {op?: mpi.reduce_op, name?: string}
---@return T
function mpi.allreduce(x, opts) end
--- Every rank's x concatenated along the first axis in rank order (the first dimensions may
--- differ). Gradient: this rank's rows of the gradient summed over the ranks.
---@generic T: ts.Node|ts.Tensor
---@param x T|table
---@param opts? {name?: string}
---@return T
function mpi.allgather(x, opts) end
--- root's x on every rank (every rank's x has root's shape and dtype). Gradient: the
--- gradient summed over the ranks on root, zeros elsewhere.
---@generic T: ts.Node|ts.Tensor
---@param x T|number|table
---@param root integer 0-based rank
---@param opts? {name?: string}
---@return T
function mpi.broadcast(x, root, opts) end
--- Assigns root's value of every variable of the session's graph (or of var_list) on every
--- rank: call it after building the training step (optimizer slots are variables too).
---@param sess ts.Session
---@param root integer 0-based rank
---@param var_list? ts.Node[]
function mpi.broadcast_variables(sess, root, var_list) end
--- Wraps an optimizer: its gradients are averaged over the ranks by allreduces fused into
--- buffers of at most fusion_bytes (default 64 MiB; 0: one per variable), then applied by opt.
---@param opt ts.Optimizer
---@param opts? {fusion_bytes?: integer}
---@return mpi.DistributedOptimizer
function mpi.DistributedOptimizer(opt, opts) end

---@class mpi.DistributedOptimizer: ts.Optimizer
---@field optimizer ts.Optimizer the wrapped optimizer
---@field fusion_bytes integer
---@field allreduce_count integer|nil how many allreduces the last compute_gradients made
local DistributedOptimizer = {}
--- The wrapped optimizer's gradients, averaged over the ranks.
---@param loss ts.Node
---@param var_list? ts.Node[]
---@return ts.grad_and_var[]
function DistributedOptimizer:compute_gradients(loss, var_list) end
--- The wrapped optimizer's apply_gradients.
---@param grads_and_vars ts.grad_and_var[]
---@param opts? ts.Node|{global_step?: ts.Node|false}
---@return ts.Node
function DistributedOptimizer:apply_gradients(grads_and_vars, opts) end
--- compute_gradients (averaged) then the wrapped optimizer's apply_gradients.
---@param loss ts.Node
---@param var_list? ts.Node[]|{global_step?: ts.Node|false, var_list?: ts.Node[]}
---@param opts? {global_step?: ts.Node|false, var_list?: ts.Node[]}
---@return ts.Node
function DistributedOptimizer:minimize(loss, var_list, opts) end

return mpi
