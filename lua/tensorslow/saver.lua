-- ts.train.Saver: checkpoints of variables as one safetensors file.
return function(ts)
  ts.train = ts.train or {}

  local Saver = {}
  Saver.__index = Saver

  local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

  --- Saver([var_list]): var_list defaults to every variable of the session's graph
  -- at save/restore time (optimizer slots and the global step included: they are
  -- variables too) except the metrics' local variables.
  function ts.train.Saver(var_list)
    if var_list ~= nil and (type(var_list) ~= "table" or ts.is_node(var_list)) then
      error("Saver: var_list must be an array of variables", 2)
    end
    if var_list ~= nil then
      for k in pairs(var_list) do
        if math.type(k) ~= "integer" then
          error(("Saver(var_list): var_list must be an array of variables, got a table with key %s"
            .. " (Saver takes no options)"):format(type(k) == "string" and "'" .. k .. "'"
            or tostring(k)), 2)
        end
      end
    end
    return setmetatable({ var_list = var_list }, Saver)
  end

  -- saver.save(...) instead of saver:save(...) gives a message saying so.
  local function check_self(self, method)
    if getmetatable(self) ~= Saver then
      error(("Saver.%s: call it as a method, saver:%s(...)"):format(method, method), 3)
    end
  end

  local function variables(self, sess)
    local list = self.var_list or ts.global_variables(sess:graph()) -- not the metrics' locals
    for i, v in ipairs(list) do
      if not ts.is_node(v) or v.op ~= "variable" then
        error(("Saver: entry %d of var_list is not a variable"):format(i), 3)
      end
    end
    return list
  end

  -- With tensorslow.mpi loaded and MPI initialised, only rank 0 writes (all ranks hold the
  -- same values) unless all_ranks is set, and every rank waits until it has: a restore
  -- that follows reads a complete file. Without MPI loaded nothing of it is touched.
  local function mpi_ranks(all_ranks)
    local mpi = package.loaded["tensorslow.mpi"]
    if type(mpi) ~= "table" or not mpi.initialized() then return nil end
    return { write = all_ranks or mpi.rank() == 0, done = mpi.barrier }
  end

  --- saver:save(sess, path [, {all_ranks=false}]): writes every variable's value keyed by
  -- its name (atomically: a temporary file renamed over path). Returns path. Under
  -- tensorslow.mpi only rank 0 writes unless all_ranks (each rank its own path, then).
  function Saver:save(sess, path, opts)
    check_self(self, "save")
    if type(path) ~= "string" then error("save: path must be a string", 2) end
    if path:find("\0", 1, true) then error("save: path contains a NUL byte", 2) end
    if opts ~= nil and (type(opts) ~= "table" or ts.is_node(opts)) then
      error("save: options must be a table", 2)
    end
    for k in pairs(opts or {}) do
      if k ~= "all_ranks" then error(("save: unknown option '%s'"):format(tostring(k)), 2) end
    end
    local ranks = mpi_ranks(opts and opts.all_ranks)
    if ranks and not ranks.write then
      ranks.done()
      return path
    end
    local tensors = {}
    for _, v in ipairs(variables(self, sess)) do
      if tensors[v.name] then error("save: two variables are named '" .. v.name .. "'", 2) end
      tensors[v.name] = v:value()
    end
    ts.io.save_safetensors(path, tensors, { format = "tensorslow" })
    if ranks then ranks.done() end
    return path
  end

  --- saver:restore(sess, path): assigns the saved values back, checking that every
  -- variable is present with the same shape and dtype.
  function Saver:restore(sess, path)
    check_self(self, "restore")
    if type(path) ~= "string" then error("restore: path must be a string", 2) end
    if path:find("\0", 1, true) then error("restore: path contains a NUL byte", 2) end
    local tensors = ts.io.load_safetensors(path)
    local vars = variables(self, sess)
    for _, v in ipairs(vars) do
      local t = tensors[v.name]
      if not t then
        error(("restore: variable '%s' is missing from %s"):format(v.name, path), 2)
      end
      if t.dtype ~= v.dtype then
        error(("restore: variable '%s' has dtype %s, %s holds %s"):format(v.name, v.dtype, path,
          t.dtype), 2)
      end
      local vs, saved = v.shape, t.shape
      local same = #vs == #saved
      for i = 1, #vs do same = same and vs[i] == saved[i] end
      if not same then
        error(("restore: variable '%s' has shape %s, %s holds %s"):format(v.name, shape_str(vs),
          path, shape_str(saved)), 2)
      end
    end
    for _, v in ipairs(vars) do v:assign(tensors[v.name]) end
    return path
  end
end
