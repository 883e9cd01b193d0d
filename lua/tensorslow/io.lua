-- ts.io: reading and writing tensors in common file formats.
-- Loaded by tensorslow/init.lua as require("tensorslow.io")(ts, I).
--
-- The functions are in C (src/lua_io.c, core part src/io.c):
--   ts.io.load_idx(path)               IDX (MNIST), plain or gzip; uint8 stays uint8,
--                                      int8/16/32 become int64, float32/64 kept
--   ts.io.load_npy(path)               .npy 1.0-3.0; <f4 <f8 <i8 |u1 kept, other integer
--                                      dtypes and bool become int64/uint8, '>' and
--                                      Fortran order converted
--   ts.io.save_npy(path, t)            .npy 1.0, C order, little-endian
--   ts.io.load_safetensors(path)       -> {name = tensor}, {metadata key = value}
--   ts.io.save_safetensors(path, {name = tensor} [, {key = "value"}])
-- Files are untrusted: bad sizes, offsets or dtypes raise an error naming the
-- file. Writers are atomic: a temporary file beside the target is synced and
-- renamed over it, so a failure leaves the old file as it was.
return function(ts, I)
  ts.io = ts.io or I.core.io
end
