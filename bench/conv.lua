-- Convolution and pooling benchmark (issue 14's shapes), float32, batch 64, NHWC and NCHW:
-- conv2d forward and forward+backward (both gradients), max_pool 2x2. Prints
-- "conv:<key> seconds" lines (median of REPS runs after a warm-up); bench/conv_peer.py
-- prints the same keys as "torch:<key>" (and OPENBLAS_CORETYPE). Both sides, same thread count,
-- from the repository root (F: keep only keys containing it, e.g. F=nhwc_28; empty: all):
--
--   F=; export TS_THREADS=2 LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'; lua5.4 bench/conv.lua $F; /usr/bin/python3 bench/conv_peer.py $F
--
-- Results go into caller tensors (opts.out), so no per-run result allocation is timed.
-- `make bench` (bench/run.lua) runs it one shape at a time beside its peer.
local ts = require "tensorslow"
local REPS = tonumber(os.getenv("REPS")) or 7
local only = arg[1]
local threads = tonumber(os.getenv("TS_THREADS")) or 2
ts.set_num_threads(threads)
local median_of = dofile("bench/median.lua")

local function emit(key, v) print(("conv:%s %.9g"):format(key, v)) end
local function want(name) return not only or name:find(only, 1, true) end

local N = 64
-- {key, H(=W), C_in, C_out, k, depthwise}
local SHAPES = {
  { "28x28x1-32k5", 28, 1, 32, 5 },
  { "14x14x32-64k5", 14, 32, 64, 5 },
  { "56x56x64-64k3", 56, 64, 64, 3 },
  { "56x56x64-256k1", 56, 64, 256, 1 },
  { "7x7x512-512k3dw", 7, 512, 512, 3, true },
}

print(("conv:threads %d"):format(threads))
for _, fmt in ipairs { "NHWC", "NCHW" } do
  local cf = fmt == "NCHW"
  local function xshape(h, c) if cf then return { N, c, h, h } end return { N, h, h, c } end
  for _, sh in ipairs(SHAPES) do
    local name, h, ci, co, k, dw = table.unpack(sh)
    local key = ("%s_%s"):format(fmt:lower(), name)
    if want(key) then
      local g = ts.Graph():as_default()
      local x = ts.placeholder { shape = xshape(h, ci), dtype = "float32" }
      local w, y
      if dw then
        w = ts.Variable(ts.randn({ k, k, ci, 1 }, "float32") * 0.1)
        y = ts.nn.depthwise_conv2d(x, w, { padding = "SAME", data_format = fmt })
      else
        local fs = cf and { co, ci, k, k } or { k, k, ci, co }
        w = ts.Variable(ts.randn(fs, "float32") * 0.1)
        y = ts.nn.conv2d(x, w, { padding = "SAME", data_format = fmt })
      end
      local loss = ts.reduce_sum(y)
      local gx, gw = table.unpack(ts.gradients(loss, { x, w }))
      local s = ts.Session(g)
      local feed = { [x] = ts.randn(xshape(h, ci), "float32") }
      -- results into caller tensors (opts.out): no per-run result allocation or copy
      local yo = { out = ts.zeros(y.shape, "float32") }
      local all = { out = { yo.out, ts.zeros(x.shape, "float32"), ts.zeros(w.shape, "float32") } }
      emit(key .. "_fwd", median_of(function() s:run(y, feed, yo) end, REPS))
      emit(key .. "_fwdbwd", median_of(function() s:run({ y, gx, gw }, feed, all) end, REPS))
      s:close()
    end
  end
  local key = fmt:lower() .. "_maxpool2x2_56x56x64"
  if want(key) then
    local g = ts.Graph():as_default()
    local x = ts.placeholder { shape = xshape(56, 64), dtype = "float32" }
    local y = ts.nn.max_pool2d(x, 2, 2, "VALID", { data_format = fmt })
    local s = ts.Session(g)
    local feed = { [x] = ts.randn(xshape(56, 64), "float32") }
    local yo = { out = ts.zeros(y.shape, "float32") }
    emit(key, median_of(function() s:run(y, feed, yo) end, REPS))
    s:close()
  end
end
