-- Channels-last (NHWC) and channels-first (NCHW) convolutions and pooling
-- take different code paths (row blocks threaded over workers, columns-free
-- depthwise, pooling along the contiguous channels); the PyTorch fixtures of
-- conv_spec are too small to make more than one block. Here inputs large
-- enough for several blocks run at 1, 2 and 3 threads in NHWC and must agree
-- with NCHW at 1 thread: values and both gradients.
local ts = require "tensorslow"

local function conv_run(fmt, nt, cfg)
  ts.set_num_threads(nt)
  ts.seed(1)
  local N, H, W, C, O, k, G = table.unpack(cfg.dims)
  local dt = cfg.dt or "float64"
  local xn = ts.randn({ N, H, W, C }, dt)
  local wn = ts.randn({ k, k, C // G, O }, dt)
  local g = ts.Graph()
  local x = ts.placeholder { shape = { N, H, W, C }, dtype = dt, graph = g }
  local w = ts.placeholder { shape = { k, k, C // G, O }, dtype = dt, graph = g }
  local xi, wi = x, w
  if fmt == "NCHW" then xi, wi = ts.transpose(x, { 1, 4, 2, 3 }), ts.transpose(w, { 4, 3, 1, 2 }) end
  local y = ts.nn.conv2d(xi, wi, { padding = cfg.pad, strides = cfg.s, dilations = cfg.d, groups = G,
                                   data_format = fmt })
  if fmt == "NCHW" then y = ts.transpose(y, { 1, 3, 4, 2 }) end
  local r = ts.randn(y.shape, dt)
  local loss = ts.reduce_sum(y * ts.constant(r, { graph = g }))
  local gx, gw = table.unpack(ts.gradients(loss, { x, w }))
  return ts.Session(g):run({ y, gx, gw }, { [x] = xn, [w] = wn })
end

local function maxdiff(a, b) return ts.reduce_max(ts.abs(a - b)):item() end

describe("NHWC and NCHW convolutions agree on inputs of several blocks", function()
  local threads = ts.get_num_threads()
  after_each(function() ts.set_num_threads(threads) end)
  local cfgs = {
    { dims = { 5, 17, 13, 3, 4, 3, 1 }, pad = "SAME", s = 1, d = 1 },
    { dims = { 4, 30, 30, 8, 6, 5, 1 }, pad = "SAME", s = 2, d = 1 },
    { dims = { 4, 30, 30, 8, 6, 3, 2 }, pad = "VALID", s = 1, d = 2 },
    { dims = { 3, 25, 31, 6, 6, 3, 6 }, pad = "SAME", s = 1, d = 1 },     -- depthwise
    { dims = { 7, 40, 40, 1, 8, 5, 1 }, pad = "SAME", s = 1, d = 1 },     -- one input channel
    { dims = { 3, 19, 19, 2, 40, 3, 1 }, pad = "SAME", s = 1, d = 1 },
    { dims = { 3, 19, 19, 1, 32, 5, 1 }, pad = "SAME", s = 2, d = 1 },
    { dims = { 2, 9, 9, 200, 3, 3, 1 }, pad = "SAME", s = 1, d = 1 },     -- K > 64: BLAS
    -- depthwise with 64 channels and more: the AVX-512 taps' blocks of 32 (64 floats), the rest
    { dims = { 2, 7, 7, 80, 80, 3, 80 }, pad = "SAME", s = 1, d = 1 },
    { dims = { 2, 9, 8, 70, 70, 3, 70 }, pad = "VALID", s = 2, d = 1 },
    { dims = { 2, 7, 7, 150, 150, 3, 150 }, pad = "SAME", s = 1, d = 2, dt = "float32", tol = 1e-4 },
  }
  for i, c in ipairs(cfgs) do
    it(("case %d: %s %s"):format(i, table.concat(c.dims, "x"), c.dt or "float64"), function()
      local ref = conv_run("NCHW", 1, c)
      for _, nt in ipairs { 1, 2, 3 } do
        local got = conv_run("NHWC", nt, c)
        for k, what in ipairs { "value", "input gradient", "filter gradient" } do
          assert.same(ref[k].shape, got[k].shape)
          local d = maxdiff(ref[k], got[k])
          assert(d <= (c.tol or 1e-9), ("%s at %d threads differs by %g"):format(what, nt, d))
        end
      end
    end)
  end
end)

describe("NHWC and NCHW pooling agree", function()
  local threads = ts.get_num_threads()
  after_each(function() ts.set_num_threads(threads) end)
  for _, op in ipairs { "max_pool2d", "avg_pool2d" } do
    it(op, function()
      ts.seed(2)
      for _, nt in ipairs { 1, 2 } do
        ts.set_num_threads(nt)
        for _, o in ipairs {
          { k = 2, s = 2, pad = "VALID" }, { k = 3, s = 2, pad = "SAME" },
          { k = 3, s = 2, pad = { { 1, 1 }, { 0, 1 } }, ceil_mode = true, count_include_pad = true },
          { k = 3, s = 1, pad = { { 1, 1 }, { 1, 1 } } },
        } do
          local x = ts.randn({ 3, 37, 41, 70 }, "float64")
          local opts = { ceil_mode = o.ceil_mode, count_include_pad = o.count_include_pad }
          local a = ts.nn[op](x, o.k, o.s, o.pad, opts)
          opts.data_format = "NCHW"
          local b = ts.transpose(ts.nn[op](ts.transpose(x, { 1, 4, 2, 3 }), o.k, o.s, o.pad, opts),
            { 1, 3, 4, 2 })
          assert.same(b.shape, a.shape)
          assert.equal(0, maxdiff(a, b))
        end
      end
    end)
  end
end)
