-- ts.data: mini-batch iteration.
-- Loaded by tensorslow/init.lua as require("tensorslow.data")(ts, I).
return function(ts, I)
  local helpers = I.core._data
  local data = {}
  ts.data = data

  local function per_tensor(v, i)
    if type(v) == "table" then return v[i] or nil end
    if i == 1 then return v end
    return nil
  end

  --- batches(tensors, batch_size [, opts]): an iterator over mini-batches.
  -- tensors is one tensor or an array of tensors sharing their first
  -- dimension; each step yields one batch per tensor (rows along the first
  -- dimension). opts:
  --   shuffle    visit rows in a random order (default false: in order)
  --   seed       seed of the shuffle's own generator (independent of ts.seed;
  --              without it ts.seed's generator picks one); same seed, same order
  --   drop_last  skip a last batch shorter than batch_size (default false)
  --   dtype      convert to this dtype batch by batch ("float32" ...)
  --   scale      multiply by this while converting (e.g. 1/255; dtype defaults to float32)
  --   shard      {rank, size}: only this rank's share of every epoch, for data-parallel
  --              training (tensorslow.mpi): rank is 0-based as MPI's (mpi.rank()), size the
  --              number of ranks. Rank r takes positions r, r + size, r + 2 size, ... of the
  --              epoch's order (shuffled alike on every rank: give the same seed), so batch k
  --              of all ranks together holds the rows of batch k of one process with
  --              batch_size * size; the last n % size positions are left out, so every rank
  --              has the same number of batches.
  -- dtype and scale apply to the first tensor (the inputs); give a table
  -- {dtype1, dtype2, ...} (false to keep one) to choose per tensor.
  -- The yielded tensors are the same objects at every step: their contents are
  -- overwritten by the next step, and a short last batch shrinks them in
  -- place. Copy a batch (t:copy()) to keep it.
  local BATCH_OPTS = { shuffle = true, seed = true, drop_last = true, dtype = true, scale = true,
    shard = true }
  function data.batches(tensors, batch_size, opts)
    opts = I.check_options("batches", opts, BATCH_OPTS)
    local list = ts.is_tensor(tensors) and { tensors } or tensors
    if type(list) ~= "table" or #list == 0 then
      error("batches: expected a tensor or an array of tensors", 2)
    end
    if math.type(batch_size) ~= "integer" or batch_size < 1 then
      error("batches: batch_size must be a positive integer, got " .. tostring(batch_size), 2)
    end
    local n
    for i, t in ipairs(list) do
      if not ts.is_tensor(t) then error(("batches: entry %d is not a tensor"):format(i), 2) end
      if t:dim() < 1 then error(("batches: tensor %d is a scalar"):format(i), 2) end
      local rows = t.shape[1]
      n = n or rows
      if rows ~= n then
        error(("batches: tensor %d has %d rows, tensor 1 has %d"):format(i, rows, n), 2)
      end
    end
    local shard_rank, shard_size
    if opts.shard ~= nil then
      local sh = opts.shard
      if type(sh) ~= "table" or math.type(sh[1]) ~= "integer" or math.type(sh[2]) ~= "integer"
        or sh[2] < 1 or sh[1] < 0 or sh[1] >= sh[2] then
        error("batches: shard must be {rank, size} with 0 <= rank < size (0-based ranks, as "
          .. "mpi.rank()), got " .. (type(sh) == "table" and ("{%s, %s}"):format(tostring(sh[1]),
          tostring(sh[2])) or tostring(sh)), 2)
      end
      if opts.shuffle and opts.seed == nil then
        error("batches: shard with shuffle needs a seed, the same on every rank", 2)
      end
      shard_rank, shard_size = sh[1], sh[2]
    end
    local bufs, scales = {}, {}
    for i, t in ipairs(list) do
      local dtype, scale = per_tensor(opts.dtype, i), per_tensor(opts.scale, i)
      if scale ~= nil and type(scale) ~= "number" then
        error("batches: scale must be a number", 2)
      end
      dtype = dtype or (scale and (t.dtype == "float64" and "float64" or "float32")) or t.dtype
      if scale and dtype ~= "float32" and dtype ~= "float64" then
        error("batches: scale needs a float dtype, got " .. dtype, 2)
      end
      local shape = t.shape
      shape[1] = math.min(batch_size, n)
      bufs[i], scales[i] = ts.zeros(shape, dtype), scale
    end
    local order = opts.shuffle and helpers.permutation(n, opts.seed) or nil
    if shard_size then -- positions rank, rank + size, ... (0-based) of the epoch's order
      local m = n // shard_size
      local pos = ts.arange(shard_rank, shard_rank + m * shard_size, shard_size, "int64")
      order = m == 0 and ts.zeros({ 0 }, "int64") or (order and order:gather(pos + 1) or pos)
      n = m
    end
    local pos, k = 0, #list
    return function()
      local count = math.min(batch_size, n - pos)
      if count <= 0 or (opts.drop_last and count < batch_size) then return nil end
      for i = 1, k do helpers.gather_rows(bufs[i], list[i], order, pos, count, scales[i]) end
      pos = pos + count
      return table.unpack(bufs, 1, k)
    end
  end
end
