-- `make bench`: runs tensorslow's benchmarks and their NumPy/PyTorch peers back to back,
-- prints one table and writes bench/RESULTS.md. Every figure is a median of several timed
-- runs after a warm-up. The BLAS environment is printed, never changed.
local function sh(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  f:close()
  return out
end

local threads = tonumber(os.getenv("TS_THREADS")) or tonumber(sh("nproc")) or 2
local env = ("TS_THREADS=%d OMP_WAIT_POLICY=PASSIVE "):format(threads)
local lua = 'LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" ' .. env .. "lua5.4 "
local py = env .. "/usr/bin/python3 "

local v = {}
local function collect(out)
  for key, val in out:gmatch("([%w_:%-]+) ([%d%.e%-]+)") do v[key] = tonumber(val) end
end

io.stderr:write("running benchmarks (a few minutes)...\n")
-- one process per benchmark on every side, so that one's memory does not weigh on the next
for _, b in ipairs { "startup", "overhead", "mlp" } do
  collect(sh(lua .. "bench/ts_bench.lua " .. b))
  if b ~= "startup" then collect(sh(py .. "bench/peers.py " .. b)) end
end
-- matmul: cblas, tensorslow and the peers back to back for each size, three rounds in turn,
-- each key the median of its rounds: the machine's drift (a shared machine gives 16 ms for
-- a product in one second and 28 in the next) lands on every side alike
for _, n in ipairs { 256, 512, 1024, 2048 } do
  local seen = {}
  for _ = 1, 3 do
    for _, cmd in ipairs { "build/bench_gemm 5 " .. n, "GEMM_N=" .. n .. " " .. lua .. "bench/ts_bench.lua gemm",
      "GEMM_N=" .. n .. " " .. py .. "bench/peers.py gemm" } do
      local out = sh(cmd)
      if cmd:find("bench_gemm", 1, true) then out = out:gsub("gemm_", "cblas:gemm_") end
      for key, val in out:gmatch("([%w_:%-]+) ([%d%.e%-]+)") do
        seen[key] = seen[key] or {}
        table.insert(seen[key], tonumber(val))
      end
    end
  end
  for key, list in pairs(seen) do
    table.sort(list)
    v[key] = list[(#list + 1) // 2]
  end
end
-- batch-1 inference at 1 thread and at TS_THREADS, beside the machine's limit for it (one read
-- of the weights, in the same parts per thread: bench_triad read)
for _, t in ipairs { 1, threads } do
  local function at(cmd) return (cmd:gsub("TS_THREADS=%d+", "TS_THREADS=" .. t)) end
  local function tagged(out) return (out:gsub("batch1_mlp", "batch1_mlp_t" .. t)) end
  collect(sh("build/bench_triad read " .. t))
  collect(tagged(sh(at(lua) .. "bench/ts_bench.lua batch1")))
  collect(tagged(sh(at(py) .. "bench/peers.py batch1")))
  -- the same calls from a C host through lua_pcall, and from a Lua loop in that process
  local host = tagged(sh(at(env) .. 'LUA_PATH="lua/?.lua;lua/?/init.lua;;" build/bench_host'))
  for key, val in host:gmatch("host:batch1_mlp_t%d+(%S*) ([%d%.e%-]+)") do
    v[(key == "" and "host_batch1_t" or "lualoop:host_batch1_t") .. t] = tonumber(val)
  end
end
-- small-CNN inference at batch 1 and 8, at 1 thread and at TS_THREADS
for _, t in ipairs { 1, threads } do
  local function at(cmd) return (cmd:gsub("TS_THREADS=%d+", "TS_THREADS=" .. t)) end
  local function tagged(out) return (out:gsub("(cnn_infer_b%d+)", "%1_t" .. t)) end
  collect(tagged(sh(at(lua) .. "bench/cnn_infer.lua")))
  collect(tagged(sh(at(py) .. "bench/cnn_infer_peer.py")))
end
-- element-wise work and the C triad (the machine's limit for it) at 1 thread and at TS_THREADS,
-- one after the other for each count; the rows above read the TS_THREADS figures
for _, t in ipairs { 1, threads } do
  local function at(cmd) return (cmd:gsub("TS_THREADS=%d+", "TS_THREADS=" .. t)) end
  local function tagged(out) return (out:gsub("ew_", "ew_t" .. t .. "_")) end
  collect(sh("build/bench_triad " .. t))
  for _, o in ipairs { sh(at(lua) .. "bench/ts_bench.lua elementwise"),
    sh(at(py) .. "bench/peers.py elementwise") } do
    collect(tagged(o))
    if t == threads then collect(o) end
  end
end
collect(sh(lua .. "bench/fashion.lua"))
collect(sh(py .. "bench/fashion_peer.py numpy"))
collect(sh(py .. "bench/fashion_peer.py torch"))
-- convolutions and pooling (issue 14's shapes), one shape at a time on both sides
local CONV = { "28x28x1-32k5", "14x14x32-64k5", "56x56x64-64k3", "56x56x64-256k1",
  "7x7x512-512k3dw", "maxpool2x2_56x56x64" }
for _, c in ipairs(CONV) do
  collect(sh(lua .. "bench/conv.lua " .. c))
  collect(sh(py .. "bench/conv_peer.py " .. c))
end
collect(sh(lua .. "bench/cnn.lua"))
collect(sh(py .. "bench/cnn_peer.py"))

local rows = {}
local function row(name, unit, scale, ts_key, peers, target)
  local t = v[ts_key]
  local r = { name = name, ts = t and t * scale, unit = unit, peers = {}, target = target }
  for _, p in ipairs(peers) do
    local pv = v[p .. ":" .. ts_key]
    r.peers[#r.peers + 1] = { p, pv and pv * scale, (pv and t) and pv / t }
  end
  rows[#rows + 1] = r
end

row("per-node overhead (1000 adds x 100)", "ns/node", 1e9 / 1e5, "overhead_chain1000x100",
  { "numpy", "torch" }, "<= 25 ns/node")
row("tutorial MLP, 1000 steps", "us/step", 1e6 / 1000, "mlp_1000_steps", { "numpy", "torch" },
  "<= 5 us/step, >= 10x NumPy")
for _, n in ipairs { 256, 512, 1024, 2048 } do
  for _, dt in ipairs { "float32", "float64" } do
    row(("matmul %s n=%d (out=)"):format(dt, n), "ms", 1e3, ("gemm_%s_%d"):format(dt, n),
      { "cblas", "numpy", "torch" }, ">= 95% of cblas")
    v["cblas:gemm_fresh_" .. dt .. "_" .. n] = v[("cblas:gemm_%s_%d"):format(dt, n)]
    row("  same, fresh result", "ms", 1e3, ("gemm_fresh_%s_%d"):format(dt, n),
      { "cblas" }, "")
  end
end
row("exp(x) * y + z, 1M float32", "ms", 1e3, "ew_exp_mul_add", { "numpy", "torch" }, ">= 2x NumPy")
row("  same, run into an out= tensor", "ms", 1e3, "ew_exp_mul_add_out", {}, "")
row("softmax 1024x1024 float32", "ms", 1e3, "ew_softmax", { "numpy", "torch" }, ">= 2x NumPy")
row("  same, run into an out= tensor", "ms", 1e3, "ew_softmax_out", {}, "")
-- each element-wise row as a fraction of the triad's bandwidth at the same thread count: bytes
-- every row must move at least (inputs read once, the result written once) over its time
local EW = { { "ew_exp_mul_add", "exp(x) * y + z, 1M float32", 16 << 20 },
  { "ew_exp_mul_add_out", "  same, into out=", 16 << 20 },
  { "ew_softmax", "softmax 1024x1024 float32", 8 << 20 },
  { "ew_softmax_out", "  same, into out=", 8 << 20 } }
for _, t in ipairs { 1, threads } do
  local th = ("%d thread%s"):format(t, t > 1 and "s" or "")
  local tri = v["triad_t" .. t] and v.triad_bytes and v.triad_bytes / v["triad_t" .. t]
  v["triad_gbs_t" .. t] = tri and tri / 1e9
  row(("C triad a = b + s*c, 1M float32, %s"):format(th), "GB/s", 1, "triad_gbs_t" .. t, {},
    "the machine's limit for the rows below")
  for _, e in ipairs(EW) do
    local key = e[1]:gsub("ew_", "ew_t" .. t .. "_")
    local frac = tri and v[key] and e[3] / v[key] / tri
    row(("%s, %s"):format(e[2], th), "ms", 1e3, key, e[2]:find("same", 1, true) and {} or
      { "numpy", "torch" }, (frac and ("%.0f%% of the triad" ):format(100 * frac) or "-")
      .. ", target >= 80%")
  end
end
for _, t in ipairs { 1, threads } do
  row(("batch-1 MLP 784-256-10 float32, %d thread%s"):format(t, t > 1 and "s" or ""), "us/call",
    1e6, "batch1_mlp_t" .. t, { "numpy", "torch", "read" },
    "<= 10 us, >= 2x NumPy (read: reading the 800 KB of weights once)")
  row("  same, from a C host (lua_pcall per call; peer: a Lua loop, same process)", "us/call",
    1e6, "host_batch1_t" .. t, { "lualoop" }, "the Lua loop's cost")
end
for _, t in ipairs { 1, threads } do
  for _, b in ipairs { 1, 8 } do
    row(("small CNN inference (cnn_model bn) batch %d, %d thread%s"):format(b, t,
      t > 1 and "s" or ""), "ms/call", 1e3, ("cnn_infer_b%d_t%d"):format(b, t), { "torch" },
      ">= 1.0x PyTorch")
  end
end
row("Fashion-MNIST MLP epoch", "s", 1, "fashion_epoch", { "numpy", "torch" },
  "<= 0.8x PyTorch, <= NumPy")
row("Fashion-MNIST peak RSS", "MiB", 1, "fashion_rss_mib", { "numpy", "torch" }, "<= 150 MiB")
for _, fmt in ipairs { "nhwc", "nchw" } do
  for _, c in ipairs(CONV) do
    if c:find("maxpool", 1, true) then
      local key = ("conv:%s_%s"):format(fmt, c)
      v["torch:" .. key] = v[("torch:%s_%s"):format(fmt, c)]
      row(("max_pool 2x2 %s, 56x56x64 batch 64"):format(fmt:upper()), "ms", 1e3, key,
        { "torch" }, ">= 1.0x PyTorch")
    else
      for _, pass in ipairs { "fwd", "fwdbwd" } do
        -- the torch side's keys are "torch:conv:..." less the "conv:" prefix
        local key = ("conv:%s_%s_%s"):format(fmt, c, pass)
        v["torch:" .. key] = v[("torch:%s_%s_%s"):format(fmt, c, pass)]
        row(("conv2d %s %s %s, batch 64"):format(fmt:upper(), c, pass == "fwd" and "forward"
          or "fwd+bwd"), "ms", 1e3, key, { "torch" }, ">= 1.0x PyTorch")
      end
    end
  end
end
row("Fashion-MNIST CNN epoch (469 x median step)", "s", 1, "cnn_epoch", { "torch" },
  "<= 0.8x PyTorch")
row("Fashion-MNIST CNN peak RSS", "MiB", 1, "cnn_rss_mib", { "torch" }, "<= 0.5x PyTorch")
row("start-up: lua5.4 -e 'require \"tensorslow\"'", "ms", 1e3, "startup", {}, "<= 5 ms")

local function fmt(x) return x and (x >= 100 and ("%.0f"):format(x) or ("%.3g"):format(x)) or "-" end
local lines = {}
local function out(s) lines[#lines + 1] = s end
out(("date %s, commit %s, %s"):format(os.date("!%Y-%m-%d %H:%M UTC"),
  sh("git rev-parse --short HEAD"):gsub("%s", ""), sh("uname -srm"):gsub("\n", "")))
local cpu = sh("grep -m1 'model name' /proc/cpuinfo"):gsub(".*: ", ""):gsub("\n", "")
out(("cpu: %s, threads: %d (tensorslow's default and torch.set_num_threads), "
  .. "OMP_WAIT_POLICY=PASSIVE"):format(cpu, threads))
local blas = {}
for _, k in ipairs { "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS" } do
  blas[#blas + 1] = k .. "=" .. (os.getenv(k) or "(unset)")
end
out("BLAS environment: " .. table.concat(blas, " "))
out("")
out("| benchmark | unit | tensorslow | peers (figure, ratio peer/tensorslow) | target |")
out("|---|---|---|---|---|")
for _, r in ipairs(rows) do
  local ps = {}
  for _, p in ipairs(r.peers) do
    ps[#ps + 1] = ("%s %s (%sx)"):format(p[1], fmt(p[2]), p[3] and ("%.2f"):format(p[3]) or "-")
  end
  out(("| %s | %s | %s | %s | %s |"):format(r.name, r.unit, fmt(r.ts), table.concat(ps, ", "), r.target))
end
if v.startup_bare_lua then
  out(("(start-up of a bare lua5.4 -e '' in the same loop: %s ms)"):format(fmt(v.startup_bare_lua * 1e3)))
end
-- "How cost grows" (bench/growth_report.lua: MLP step against batch and width, graph size,
-- memory), after the table; BENCH_GROWTH=0 leaves it out
if os.getenv("BENCH_GROWTH") ~= "0" then
  io.stderr:write("running the growth benchmarks (several minutes)...\n")
  out("")
  out((sh(lua .. "bench/growth_report.lua"):gsub("\n$", "")))
end
local text = table.concat(lines, "\n")
print(text)
local f = assert(io.open("bench/RESULTS.md", "w"))
f:write("# Benchmark results\n\nThe latest `make bench` table (ratios > 1 mean tensorslow is faster;"
  .. " for memory, lower is better).\n\n", text, "\n")
f:close()
