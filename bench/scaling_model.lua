-- The ring-allreduce model of doc/SCALING.md: prints its tables (plain Lua, no MPI).
--   t_allreduce = 2 (p-1)/p * bytes / bandwidth + 2 (p-1) * latency
--   efficiency (no overlap)  = t_compute / (t_compute + t_allreduce)
--   efficiency (overlapped)  = t_compute / (t_compute + max(t_allreduce - t_backward, t_last))
-- where the backward pass is 2/3 of a step and t_last the allreduce of the last bucket
-- (25 MB buckets as PyTorch DDP's: one bucket for these models, so overlapping can only
-- start once every gradient exists unless the buckets are made smaller: 4 buckets here).
local MODELS = {
  { name = "MLP", bytes = 269322 * 4, compute = 10.1e-3 }, -- measured: 1 thread, batch 128
  { name = "CNN", bytes = 857930 * 4, compute = 256e-3 },  -- README: ~120 s / 469 steps, batch 128
}
local NETS = { { gbps = 10, lat = 20e-6 }, { gbps = 25, lat = 10e-6 }, { gbps = 100, lat = 3e-6 } }
local BUCKETS = 4
local function allreduce(p, bytes, net)
  return 2 * (p - 1) / p * bytes / (net.gbps * 1e9 / 8) + 2 * (p - 1) * net.lat
end
for _, m in ipairs(MODELS) do
  print(("%s: %.2f MB of gradients, %.1f ms compute per step and rank"):format(m.name, m.bytes / 1e6,
    m.compute * 1e3))
  print("| ranks | network | allreduce | efficiency | with overlap |")
  print("|---:|---:|---:|---:|---:|")
  for _, p in ipairs { 8, 16, 64 } do
    for _, net in ipairs(NETS) do
      local t = allreduce(p, m.bytes, net)
      local last = allreduce(p, m.bytes / BUCKETS, net)
      local hidden = math.max(t - 2 / 3 * m.compute, last)
      print(("| %d | %d Gb/s | %.2f ms | %.1f%% | %.1f%% |"):format(p, net.gbps, t * 1e3,
        100 * m.compute / (m.compute + t), 100 * m.compute / (m.compute + hidden)))
    end
  end
  print()
end
