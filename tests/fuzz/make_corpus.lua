-- Writes part of the seed corpora in tests/fuzz/corpus/ (the fixtures from
-- spec/fixtures were copied in by hand). From the repository root, after
-- `make`: lua5.4 tests/fuzz/make_corpus.lua [build directory, default build]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (arg[1] or "build") .. "/?.so;" .. package.cpath
local ts = require "tensorslow"

local C = "tests/fuzz/corpus/"
local function put(name, bytes)
  local f = assert(io.open(C .. name, "wb"))
  f:write(bytes)
  f:close()
end
local function st(header, data) return string.pack("<I8", #header) .. header .. (data or "") end
local function npy(header, data)
  return "\147NUMPY\1\0" .. string.pack("<I2", #header) .. header .. (data or "")
end

-- safetensors: written by tensorslow, and crafted edge cases
ts.io.save_safetensors(C .. "safetensors/written", {
  w = ts.tensor({ { 1, 2 }, { 3, 4 } }, "float32"), b = ts.tensor { 0.5 },
  n = ts.tensor({ 7 }, "int64"), u = ts.tensor({ 1, 255 }, "uint8"), s = ts.tensor(2.5),
  e = ts.zeros({ 0, 2 }, "float32"),
}, { format = "pt", note = "seed" })
put("safetensors/empty", st("{}"))
put("safetensors/meta_only", st('{"__metadata__":{"a":"b"}}'))
put("safetensors/dup", st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
  .. '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', "xy"))
put("safetensors/overlap", st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
  .. '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', "xyz"))
put("safetensors/big_shape", st('{"a":{"dtype":"F64","shape":[1e15,1e15],"data_offsets":[0,8]}}',
  "12345678"))
put("safetensors/unicode", st('{"\\u00e9\\u0000x":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}',
  "12345678"))

-- npy: crafted headers beside the fixtures
put("npy/v3_utf8", "\147NUMPY\3\0" .. string.pack("<I4", 70)
  .. "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }          \n" .. "abcdefgh")
put("npy/fortran3", npy("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 1, 3), }", ("ab"):rep(6)))
put("npy/zero_dim", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (0, 1099511627776), }"))
put("npy/struct", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd"))

-- IDX behind gzip (idx_gz compresses its input itself): a larger rank
put("idx_gz/rank4", "\0\0\8\4" .. string.pack(">I4>I4>I4>I4", 1, 2, 1, 3) .. "abcdef")
put("idx/rank0", "\0\0\14\0" .. "12345678")

-- Saver checkpoints for the harness's variables (w, layer/b, step, mask)
local g = ts.Graph()
local w = ts.Variable({ { 1, 2, 3 }, { 4, 5, 6 } }, { graph = g, name = "w", dtype = "float32" })
ts.Variable({ 0.5, 1.5, 2.5 }, { graph = g, name = "layer/b" })
ts.Variable(7, { graph = g, name = "step", dtype = "int64" })
ts.Variable({ { 1, 0 }, { 0, 1 } }, { graph = g, name = "mask", dtype = "uint8" })
local sess = ts.Session(g)
ts.train.Saver():save(sess, C .. "saver/all")
ts.train.Saver({ w }):save(sess, C .. "saver/only_w")
ts.io.save_safetensors(C .. "saver/wrong_shape", { w = ts.zeros({ 3, 2 }, "float32") })
ts.io.save_safetensors(C .. "saver/wrong_dtype", {
  w = ts.zeros({ 2, 3 }), ["layer/b"] = ts.zeros { 3 }, step = ts.tensor(1, "int64"),
  mask = ts.zeros({ 2, 2 }, "uint8"),
})
sess:close()

-- lua_values: small programs for the stack machine of fuzz_lua_values.c
-- (two bytes per instruction: opcode, argument).
local function prog(...) return string.char(...) end
local INT, FLT, STR, TBL, APP, SET, META, CALL = 0, 1, 2, 4, 5, 6, 7, 9
put("lua_values/tensor_2x2", prog(TBL, 0, TBL, 0, INT, 1, APP, 0, INT, 3, APP, 0, APP, 0,
  TBL, 0, INT, 4, APP, 0, INT, 5, APP, 0, APP, 0, CALL, 0))
put("lua_values/zeros_neg_len", prog(TBL, 0, INT, 3, APP, 0, INT, 2, META, 0, CALL, 1))
put("lua_values/zeros_huge", prog(TBL, 0, INT, 20, APP, 0, INT, 20, APP, 0, STR, 0, CALL, 1))
put("lua_values/tensor_nan", prog(TBL, 0, FLT, 7, APP, 0, FLT, 8, APP, 0, STR, 2, CALL, 0))
put("lua_values/apply_attrs", prog(3, 3, TBL, 0, INT, 20, SET, 0, INT, 1, SET, 6, 3, 2, CALL, 5))
put("lua_values/node_attrs", prog(3, 7, STR, 5, TBL, 0, INT, 21, SET, 5, 3, 10, CALL, 6))
put("lua_values/cycle", prog(TBL, 0, INT, 1, APP, 0, 13, 0, STR, 1, CALL, 0))
put("lua_values/reshape", prog(3, 2, TBL, 0, INT, 3, APP, 0, INT, 2, APP, 0, CALL, 4))
put("lua_values/index_lies", prog(TBL, 0, INT, 4, META, 5, TBL, 0, 11, 0, CALL, 0))
print("corpus written")
