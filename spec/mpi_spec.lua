-- tensorslow.mpi on two ranks: each case (spec/mpi/<case>.lua) runs under
-- `mpirun --allow-run-as-root --oversubscribe -np 2`, bounded by `timeout`, with this
-- process's package.path and package.cpath (so `make asan` runs the children on the
-- ASan build, with the sanitizer preload it inherits; leak detection is off for them:
-- Open MPI keeps its allocations to the end). The cases check their own values; here
-- the exit status and what each rank printed.
local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local have_mpi = os.execute("command -v mpirun >/dev/null 2>&1")
  and package.searchpath("tensorslow.mpi_core", package.cpath) ~= nil

-- runs a case; returns its combined output, exit status and seconds taken
local function run(case, args, env)
  local asan = os.getenv("ASAN_OPTIONS")
  -- the sanitizer preload goes to the ranks only (mpirun -x), not to mpirun itself: Open MPI's
  -- launcher has a use-after-free of its own (pmix logging while a job aborts) that ASan
  -- reports and turns into mpirun's exit status
  local preload = os.getenv("LD_PRELOAD")
  local cmd = table.concat({
    "env", preload and "-u LD_PRELOAD" or "",
    "LUA_PATH=" .. sh_quote(package.path), "LUA_CPATH=" .. sh_quote(package.cpath),
    asan and "ASAN_OPTIONS=" .. sh_quote(asan .. ":detect_leaks=0") or "",
    env or "",
    "timeout -k 5 60 mpirun --allow-run-as-root --oversubscribe -np 2",
    preload and "-x LD_PRELOAD=" .. sh_quote((preload:gsub("%s+", ":"))) or "",
    "lua5.4",
    "spec/mpi/" .. case .. ".lua", args or "", "2>&1",
  }, " ")
  local t0 = os.time()
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  local _, _, code = f:close()
  return out, code, os.time() - t0
end

-- checks: the count of each rank's checks (a number: the same on both)
local function ranks_ok(out, checks)
  for r = 0, 1 do
    local n = out:match(("rank %d: (%%d+) checks ok"):format(r))
    assert(n, "rank " .. r .. " did not finish:\n" .. out)
    assert.are.equal(type(checks) == "table" and checks[r + 1] or checks, tonumber(n))
  end
end

describe("tensorslow.mpi on 2 ranks", function()
  it("has Open MPI and the module built (make deps, make)", function()
    assert.is_truthy(have_mpi)
  end)
  if not have_mpi then return end

  it("opens libmpi with RTLD_GLOBAL before MPI_Init, and MPI's plugins load", function()
    local out, code = run("plugins")
    assert.are.equal(0, code, out)
    local _, before = out:gsub("global before init: false", "")
    local _, at = out:gsub("global at MPI_Init: true", "")
    assert.are.equal(2, before, out)
    assert.are.equal(2, at, out)
    assert.truthy(out:find("library: Open MPI v%d"), out)
    assert.truthy(out:find("rank 0 of 2: allreduce 3", 1, true), out)
    assert.truthy(out:find("rank 1 of 2: allreduce 3", 1, true), out)
    out, code = run("plugins", nil, "TS_MPI_NO_GLOBAL=1")
    assert.are.equal(0, code, out)
    local _, without = out:gsub("global at MPI_Init: false", "")
    assert.are.equal(2, without, out)
  end)

  it("allreduce, allgather and broadcast: values for each dtype and shape, eager and nodes", function()
    local out, code = run("collectives")
    assert.are.equal(0, code, out)
    ranks_ok(out, 1508)
  end)

  it("gradients through the collectives match central differences of the global loss", function()
    local out, code = run("gradients")
    assert.are.equal(0, code, out)
    ranks_ok(out, { 40, 42 })
  end)

  it("2 ranks with batch b train like one process with batch 2b (GD and Adam, 50 steps, 1e-12)", function()
    local out, code = run("equivalence")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("trained 50 steps", 1, true), out)
    ranks_ok(out, 46)
  end)

  it("saver:save writes on rank 0 (all_ranks: on each), restore works on every rank", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. sh_quote(dir)))
    local out, code = run("saver", sh_quote(dir))
    os.execute("rm -rf " .. sh_quote(dir))
    assert.are.equal(0, code, out)
    ranks_ok(out, 7)
  end)

  it("a rank that raises ends the job within seconds, non-zero, with its message", function()
    local out, code, secs = run("failing")
    assert.are_not.equal(0, code, out)
    assert.are_not.equal(124, code, "timed out:\n" .. out) -- timeout's status: it hung
    assert.truthy(secs < 30, out)
    assert.truthy(out:find("rank 1 fails at step 5 on purpose", 1, true), out)
    assert.truthy(out:find("tensorslow.mpi: rank 1 exits with status 1: aborting the job", 1, true), out)
    assert.falsy(out:find("was not stopped", 1, true), out)
  end)

  it("an allreduce whose ranks disagree fails on every rank, non-zero, with the message", function()
    local out, code = run("failing", "mismatch")
    assert.are_not.equal(0, code, out)
    assert.are_not.equal(124, code, "timed out:\n" .. out)
    assert.truthy(out:find("allreduce: the ranks' tensors differ in size: 2 to 3 elements", 1, true), out)
    assert.falsy(out:find("was not stopped", 1, true), out)
  end)

  it("mpi.abort prints its message and ends every rank with its code", function()
    local out, code = run("failing", "abort")
    assert.are.equal(3, code, out)
    assert.truthy(out:find("tensorslow.mpi: rank 0: rank 0 gives up", 1, true), out)
    assert.falsy(out:find("was not stopped", 1, true), out)
  end)
end)

-- A small learnable data set in IDX files: class k lights up rows 3k..3k+2.
local function dataset(dir, n_train, n_test)
  local seed = 1
  for _, part in ipairs { { "train", n_train }, { "t10k", n_test } } do
    local n, imgs, labels = part[2], {}, {}
    for i = 1, n do
      local k = (i * 7) % 10
      labels[i] = string.char(k)
      local px = {}
      for q = 1, 784 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        px[q] = string.char(((q - 1) // 28 // 3 == k and 200 or 0) + seed % 40)
      end
      imgs[i] = table.concat(px)
    end
    for _, f in ipairs { { "-images-idx3-ubyte", { n, 28, 28 }, table.concat(imgs) },
      { "-labels-idx1-ubyte", { n }, table.concat(labels) } } do
      local h = assert(io.open(dir .. "/" .. part[1] .. f[1], "wb"))
      h:write(string.pack(">I4", 0x0800 + #f[2]))
      for _, d in ipairs(f[2]) do h:write(string.pack(">I4", d)) end
      h:write(f[3])
      h:close()
    end
  end
end

describe("examples/fashion_mnist.lua --mpi", function()
  it("trains on 2 ranks to one process's accuracy, rank 0 alone printing and saving", function()
    assert.is_truthy(have_mpi)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. sh_quote(dir)))
    dataset(dir, 600, 200)
    local args = ("--epochs 2 --batch 32 --threads 1 --no-plots --data %s"):format(sh_quote(dir))
    local env = "env LUA_PATH=" .. sh_quote(package.path) .. " LUA_CPATH=" .. sh_quote(package.cpath)
    local f = assert(io.popen(env .. " lua5.4 examples/fashion_mnist.lua " .. args .. " 2>&1"))
    local single = f:read("a")
    f:close()
    local out, code = run("../../examples/fashion_mnist", "--mpi --checkpoint " ..
      sh_quote(dir .. "/mpi.safetensors") .. " " .. args)
    local saved = io.open(dir .. "/mpi.safetensors", "rb")
    if saved then saved:close() end
    os.execute("rm -rf " .. sh_quote(dir))
    assert.are.equal(0, code, out)
    assert.truthy(out:find("data-parallel on 2 ranks: 16 rows per rank and step, global batch 32", 1,
      true), out)
    local _, epochs = out:gsub("epoch 2/2: loss", "")
    assert.are.equal(1, epochs, out) -- printed by rank 0 only
    local acc1 = tonumber(single:match("epoch 2/2: .-test accuracy ([%d.]+)%%"))
    local acc2 = tonumber(out:match("epoch 2/2: .-test accuracy ([%d.]+)%%"))
    assert(acc1 and acc2, single .. out)
    assert.truthy(acc1 > 50, single)
    assert.truthy(math.abs(acc1 - acc2) <= 0.5, ("one process %.2f%%, two ranks %.2f%%"):format(acc1, acc2))
    -- as many steps of the global batch as one process makes (600 rows / 32: 19)
    assert.are.equal("19", single:match("epoch 2/2: [^\n]-%((%d+) steps"))
    assert.are.equal("19", out:match("epoch 2/2: [^\n]-%((%d+) steps"))
    assert.truthy(saved, "no checkpoint written")
  end)
end)

describe("library/tensorslow_mpi.lua", function()
  it("annotates exactly the functions of tensorslow.mpi and DistributedOptimizer's methods", function()
    if not have_mpi then error("tensorslow.mpi is not built") end
    local f = assert(io.open("library/tensorslow_mpi.lua", "rb"))
    local text = f:read("a")
    f:close()
    local mpi = require "tensorslow.mpi" -- loading it does not initialise MPI
    local annotated, live = {}, {}
    for name in text:gmatch("\nfunction mpi%.([%w_]+)%(") do annotated[name] = true end
    for k in pairs(mpi) do live[k] = true end
    assert.are.same(live, annotated)
    local methods = {}
    for name in text:gmatch("\nfunction DistributedOptimizer:([%w_]+)%(") do methods[#methods + 1] = name end
    table.sort(methods)
    assert.are.same({ "apply_gradients", "compute_gradients", "minimize" }, methods)
    local opt = mpi.DistributedOptimizer(require("tensorslow").train.GradientDescentOptimizer(0.1))
    for _, m in ipairs(methods) do assert.are.equal("function", type(opt[m]), m) end
    assert.is_false(mpi.initialized()) -- nothing here needed MPI itself
  end)
end)

describe("the MPI hooks without mpirun", function()
  local ts = require "tensorslow"

  local function rows(t) return t:reshape({ t:numel() }):totable() end

  it("batches' shard: each rank every size-th position of the epoch's order, as many batches", function()
    local x = ts.arange(0, 23, 1, "int64"):reshape({ 23, 1 })
    for _, shuffle in ipairs { false, true } do
      local whole = {}
      for b in ts.data.batches(x, 6, { shuffle = shuffle, seed = 9 }) do whole[#whole + 1] = rows(b) end
      local per_rank = {}
      for r = 0, 1 do
        per_rank[r] = {}
        for b in ts.data.batches(x, 3, { shuffle = shuffle, seed = 9, shard = { r, 2 } }) do
          per_rank[r][#per_rank[r] + 1] = rows(b)
        end
      end
      -- 23 rows: 11 per rank (the last position of the order is left out), batches 3,3,3,2
      assert.are.equal(4, #per_rank[0])
      assert.are.equal(4, #per_rank[1])
      for k = 1, 4 do
        local got = {}
        for j = 1, #per_rank[0][k] do
          got[#got + 1] = per_rank[0][k][j]
          got[#got + 1] = per_rank[1][k][j]
        end
        local want = { table.unpack(whole[k], 1, #got) }
        assert.are.same(want, got) -- batch k of both ranks interleaved: one process's batch k
      end
    end
  end)

  it("batches' shard is checked", function()
    local x = ts.zeros({ 4, 1 })
    for _, case in ipairs {
      { { 2, 2 }, "0 <= rank < size" }, { { -1, 2 }, "0 <= rank < size" },
      { { 0, 0 }, "0 <= rank < size" }, { { 1.5, 2 }, "got {1.5, 2}" }, { 3, "got 3" },
    } do
      local ok, err = pcall(ts.data.batches, x, 2, { shard = case[1] })
      assert.is_false(ok)
      assert.truthy(err:find(case[2], 1, true), err)
    end
    local ok, err = pcall(ts.data.batches, x, 2, { shuffle = true, shard = { 0, 2 } })
    assert.is_false(ok)
    assert.truthy(err:find("shard with shuffle needs a seed", 1, true), err)
    -- more ranks than rows: no batch at all, on every rank
    local n = 0
    for _ in ts.data.batches(x, 2, { shard = { 1, 5 } }) do n = n + 1 end
    assert.are.equal(0, n)
  end)

  it("saver:save writes as before when MPI is not initialised (all_ranks accepted)", function()
    local g = ts.Graph()
    local v = ts.Variable(ts.tensor { 1, 2 }, { graph = g, name = "v" })
    local sess = ts.Session(g)
    local path = os.tmpname()
    local saver = ts.train.Saver()
    assert.are.equal(path, saver:save(sess, path, { all_ranks = true }))
    v:assign(ts.tensor { 0, 0 })
    saver:restore(sess, path)
    assert.are.same({ 1, 2 }, v:value():totable())
    os.remove(path)
    local ok, err = pcall(saver.save, saver, sess, path, { rank0 = true })
    assert.is_false(ok)
    assert.truthy(err:find("unknown option 'rank0'", 1, true), err)
  end)
end)
