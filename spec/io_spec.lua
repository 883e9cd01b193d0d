local ts = require "tensorslow"
local H = require "helpers"

local FIX = "spec/fixtures/"
local CLEAN = H.CLEAN
local PY = CLEAN .. "/usr/bin/python3"
local base = { { 1.5, -2.25, 3.0 }, { 4.0, 0.5, -6.75 } }

local S = H.scratch()
local path, write, slurp, listing = S.path, S.write, S.slurp, S.listing
before_each(S.setup)
after_each(S.teardown)
-- Runs a Python/NumPy check; true when it exits 0.
local function python(code)
  local ok = os.execute(PY .. " -c '" .. code .. "'")
  return ok == true
end

describe("ts.io.load_idx", function()
  it("reads every element type, big-endian, with the documented dtypes", function()
    local t = ts.io.load_idx(FIX .. "u8.idx")
    H.tensor(t, { { { 0, 1 }, { 2, 3 } }, { { 4, 5 }, { 6, 7 } }, { { 8, 9 }, { 10, 11 } } }, "uint8")
    H.tensor(ts.io.load_idx(FIX .. "i8.idx"), { -128, -1, 0, 127 }, "int64")
    H.tensor(ts.io.load_idx(FIX .. "i16.idx"), { { -32768, 1 }, { 2, 32767 } }, "int64")
    H.tensor(ts.io.load_idx(FIX .. "i32.idx"), { -2147483648, 5, 2147483647 }, "int64")
    H.tensor(ts.io.load_idx(FIX .. "f32.idx"), { { 0.5, -1.25 } }, "float32")
    H.tensor(ts.io.load_idx(FIX .. "f64.idx"), { 3.125, -1e300 }, "float64")
  end)

  it("reads gzip files like plain ones", function()
    local a, b = ts.io.load_idx(FIX .. "u8.idx"), ts.io.load_idx(FIX .. "u8.idx.gz")
    H.tensor(b, a:totable(), "uint8")
    assert.same({ 3, 2, 2 }, b.shape)
  end)

  it("refuses a bad magic and an unknown element type", function()
    H.fails(function() ts.io.load_idx(write("m.idx", "\1\0\8\1\0\0\0\1x")) end, "not an IDX file")
    local p = write("t.idx", "\0\0\10\1\0\0\0\1x")
    local err = H.fails(function() ts.io.load_idx(p) end, "unknown IDX element type 0x0A")
    assert.truthy(err:find(p, 1, true))
  end)

  it("refuses a truncated file and a header claiming more than the file holds", function()
    local raw = slurp(FIX .. "u8.idx")
    local p = write("short.idx", raw:sub(1, -3))
    local err = H.fails(function() ts.io.load_idx(p) end, "but the file holds only 10")
    assert.truthy(err:find("load_idx: '" .. p .. "'", 1, true))
    H.fails(function() ts.io.load_idx(write("hdr.idx", "\0\0\8\3\0\0")) end, "truncated file")
    -- 65536 x 65536 bytes claimed by a 16-byte file: refused before allocating
    H.fails(function() ts.io.load_idx(write("big.idx", "\0\0\8\2\0\1\0\0\0\1\0\0xxxx")) end,
      "header claims 4294967296 bytes")
    -- dimensions whose product overflows
    H.fails(function()
      ts.io.load_idx(write("ovf.idx", "\0\0\13\3" .. ("\255\255\255\255"):rep(3)))
    end, "too many elements")
    H.fails(function() ts.io.load_idx(write("long.idx", raw .. "zz")) end, "2 unexpected bytes")
  end)

  it("checks gzip files: truncated streams and impossible sizes", function()
    local gz = slurp(FIX .. "u8.idx.gz")
    local p = write("cut.idx.gz", gz:sub(1, 20))
    local err = H.fails(function() ts.io.load_idx(p) end, "load_idx: '" .. p .. "'")
    assert.truthy(err:find("truncated") or err:find("corrupt"), err)
    -- a small gzip stream claiming 10^10 bytes
    write("big.idx", "\0\0\8\2" .. string.pack(">I4>I4", 100000, 100000) .. "abc")
    assert(os.execute(CLEAN .. "gzip -n -q '" .. path("big.idx") .. "'"))
    H.fails(function() ts.io.load_idx(path("big.idx.gz")) end, "more than a gzip file")
    -- a damaged CRC
    local bad = gz:sub(1, -9) .. string.char((gz:byte(-8) + 1) % 256) .. gz:sub(-7)
    H.fails(function() ts.io.load_idx(write("crc.idx.gz", bad)) end, "corrupt gzip data")
    -- a whole gzip stream whose data stops short: found while filling the result
    write("short.idx", slurp(FIX .. "u8.idx"):sub(1, -4))
    assert(os.execute(CLEAN .. "gzip -n -q '" .. path("short.idx") .. "'"))
    H.fails(function() ts.io.load_idx(path("short.idx.gz")) end, "truncated file while reading the data")
  end)

  it("refuses directories and missing files", function()
    H.fails(function() ts.io.load_idx(S.dir) end, "is a directory")
    H.fails(function() ts.io.load_idx(path("none.idx")) end, "cannot open")
    H.fails(function() ts.io.load_idx({}) end, "string expected")
  end)
end)

describe("ts.io.load_npy", function()
  it("reads the dtypes it keeps", function()
    H.tensor(ts.io.load_npy(FIX .. "f4.npy"), base, "float32")
    H.tensor(ts.io.load_npy(FIX .. "f8.npy"), base, "float64")
    H.tensor(ts.io.load_npy(FIX .. "i8.npy"), { -3, 0, 1 << 40 }, "int64")
    H.tensor(ts.io.load_npy(FIX .. "u1.npy"), { { 0, 1, 2 }, { 3, 4, 5 } }, "uint8")
  end)

  it("widens other integer dtypes and bool", function()
    H.tensor(ts.io.load_npy(FIX .. "i4.npy"), { { -1, 2 }, { -2147483648, 2147483647 } }, "int64")
    H.tensor(ts.io.load_npy(FIX .. "i2.npy"), { -32768, 7, 32767 }, "int64")
    H.tensor(ts.io.load_npy(FIX .. "i1.npy"), { -128, -1, 127 }, "int64")
    H.tensor(ts.io.load_npy(FIX .. "u2.npy"), { 0, 65535 }, "int64")
    H.tensor(ts.io.load_npy(FIX .. "bool.npy"), { 1, 0, 1 }, "uint8")
  end)

  it("converts big-endian data and Fortran order", function()
    H.tensor(ts.io.load_npy(FIX .. "be_f8.npy"), base, "float64")
    H.tensor(ts.io.load_npy(FIX .. "be_i4.npy"), { -5, 70000 }, "int64")
    local f = ts.io.load_npy(FIX .. "fortran.npy")
    H.tensor(f, ts.arange(24):reshape(2, 3, 4):totable(), "float64")
  end)

  it("reads versions 2.0 and 3.0, scalars and empty arrays", function()
    H.tensor(ts.io.load_npy(FIX .. "v2.npy"), base, "float32")
    H.tensor(ts.io.load_npy(FIX .. "v3.npy"), base, "float32")
    local s = ts.io.load_npy(FIX .. "scalar.npy")
    assert.equal(0, s:dim())
    assert.equal(7.25, s:item())
    local e = ts.io.load_npy(FIX .. "empty.npy")
    assert.same({ 0, 3 }, e.shape)
    assert.equal("float32", e.dtype)
  end)

  it("refuses unsupported dtypes clearly", function()
    H.fails(function() ts.io.load_npy(FIX .. "f2.npy") end, "unsupported .npy dtype '<f2'")
    H.fails(function() ts.io.load_npy(FIX .. "u8.npy") end, "unsupported .npy dtype '<u8'")
  end)

  local function npy(header, data, version)
    version = version or 1
    local len = version == 1 and string.pack("<I2", #header) or string.pack("<I4", #header)
    return "\147NUMPY" .. string.char(version, 0) .. len .. header .. (data or "")
  end

  it("refuses crafted headers", function()
    local function fails(name, bytes, text)
      local p = write(name, bytes)
      local err = H.fails(function() ts.io.load_npy(p) end, text)
      assert.truthy(err:find(p, 1, true), err)
    end
    fails("magic.npy", "\147NUMPX\1\0\0\0", "not a .npy file")
    fails("v9.npy", npy("{}", nil, 9), "unsupported .npy version 9.0")
    fails("hlen.npy", "\147NUMPY\1\0\255\255{}", "header claims 65535 bytes")
    fails("hlen3.npy", "\147NUMPY\3\0\255\255\255\127{}", "header claims 2147483647 bytes")
    fails("c16.npy", npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", ("x"):rep(16)),
      "unsupported .npy dtype '<c16'")
    fails("rec.npy", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
      "structured .npy dtypes are not supported")
    fails("nokey.npy", npy("{'descr': '<f4', 'shape': (1,), }", "xxxx"), "lacks 'fortran_order'")
    fails("junk.npy", npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "xxxx"),
      "malformed .npy fortran_order")
    fails("shape.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "xxxx"),
      "non-integer entry")
    fails("rank.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }"),
      "rank exceeds")
    fails("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999,), }"),
      "header claims 799999999999992 bytes")
    fails("ovf.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
      "too many elements")
  end)

  it("refuses truncated data, trailing bytes and directories", function()
    local raw = slurp(FIX .. "f8.npy")
    local p = write("cut.npy", raw:sub(1, -5))
    H.fails(function() ts.io.load_npy(p) end, "holds only 44 (truncated file?)")
    p = write("long.npy", raw .. "x")
    H.fails(function() ts.io.load_npy(p) end, "1 unexpected bytes")
    H.fails(function() ts.io.load_npy(S.dir) end, "is a directory")
  end)
end)

describe("ts.io.save_npy", function()
  it("round-trips every dtype, scalars and empty tensors through tensorslow", function()
    for _, dt in ipairs { "float32", "float64", "int64", "uint8" } do
      local t = ts.arange(12, dt):reshape(3, 4)
      ts.io.save_npy(path("a.npy"), t)
      H.tensor(ts.io.load_npy(path("a.npy")), t:totable(), dt)
    end
    ts.io.save_npy(path("s.npy"), ts.tensor(2.5))
    assert.equal(2.5, ts.io.load_npy(path("s.npy")):item())
    ts.io.save_npy(path("e.npy"), ts.zeros({ 0, 2 }, "int64"))
    assert.same({ 0, 2 }, ts.io.load_npy(path("e.npy")).shape)
  end)

  it("writes files NumPy reads back exactly", function()
    ts.io.save_npy(path("f4.npy"), ts.tensor(base, "float32"))
    ts.io.save_npy(path("i8.npy"), ts.tensor({ -1, 1 << 40, 7 }, "int64"))
    ts.io.save_npy(path("u1.npy"), ts.tensor({ { 0, 255 } }, "uint8"))
    ts.io.save_npy(path("v.npy"), ts.tensor({ 5 }, "float64"))
    ts.io.save_npy(path("s.npy"), ts.tensor(1.5))
    local d = S.dir
    assert.is_true(python(([==[
import numpy as np
d = "%s"
a = np.load(d + "/f4.npy")
assert a.dtype == np.dtype("<f4") and a.shape == (2, 3), a
assert (a == np.array([[1.5, -2.25, 3.0], [4.0, 0.5, -6.75]], dtype="<f4")).all()
b = np.load(d + "/i8.npy")
assert b.dtype == np.dtype("<i8") and b.tolist() == [-1, 2**40, 7]
c = np.load(d + "/u1.npy")
assert c.dtype == np.uint8 and c.tolist() == [[0, 255]]
assert np.load(d + "/v.npy").shape == (1,)
s = np.load(d + "/s.npy")
assert s.shape == () and s == 1.5
with open(d + "/f4.npy", "rb") as f:
    assert np.lib.format.read_magic(f) == (1, 0)
]==]):format(d)))
  end)

  it("replaces the target atomically and leaves no temporary file on failure", function()
    local p = path("x.npy")
    ts.io.save_npy(p, ts.ones({ 2 }))
    ts.io.save_npy(p, ts.zeros({ 3 }))
    H.tensor(ts.io.load_npy(p), { 0, 0, 0 })
    assert.equal("x.npy", listing())
    -- a directory as target: refused before anything is written
    assert(os.execute(CLEAN .. "mkdir '" .. path("sub") .. "'"))
    H.fails(function() ts.io.save_npy(path("sub"), ts.ones({ 2 })) end,
      "save_npy: '" .. path("sub") .. "' is a directory, not a regular file: not replaced")
    assert.equal("sub x.npy", listing())
    H.fails(function() ts.io.save_npy(path("nodir/y.npy"), ts.ones({ 2 })) end,
      "cannot create a temporary file")
    H.fails(function() ts.io.save_npy(p, { 1, 2 }) end, "tensorslow.Tensor expected")
  end)
end)

describe("ts.io.load_safetensors", function()
  it("reads a file written by another implementation, with its metadata", function()
    local t, meta = ts.io.load_safetensors(FIX .. "model.safetensors")
    H.tensor(t.weight, base, "float32")
    H.tensor(t.bias, { 0.25, -0.5 }, "float64")
    H.tensor(t.step, { 42 }, "int64")
    H.tensor(t.mask, { { 1, 0 }, { 0, 1 } }, "uint8")
    assert.same({ format = "pt", note = "fixture" }, meta)
  end)

  local function st(header, data)
    return string.pack("<I8", #header) .. header .. (data or "")
  end
  local function fails(name, bytes, text)
    local p = write(name, bytes)
    local err = H.fails(function() ts.io.load_safetensors(p) end, text)
    assert.truthy(err:find("load_safetensors: '" .. p .. "'", 1, true), err)
  end

  it("refuses headers claiming more than the file holds", function()
    fails("short", "\1\0\0", "too short")
    fails("hlen", string.pack("<I8", 1 << 62) .. "{}", "header claims 4611686018427387904 bytes")
    fails("hlen2", string.pack("<I8", 10) .. "{}", "truncated file?")
    fails("json", st("{not json}"), "not valid JSON")
    fails("arr", st("[1, 2]"), "not a JSON object")
  end)

  it("refuses bad dtypes, shapes and offsets", function()
    fails("f8", st('{"a":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}}', "x"),
      "unsupported dtype 'F8_E5M2'")
    fails("u64", st('{"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}', "xxxxxxxx"),
      "unsupported dtype 'U64'")
    fails("range", st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', "xxxx"),
      "out of range")
    fails("span", st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', "xxxx"),
      "span 4 bytes but F32 [2] needs 8")
    fails("overlap", st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
      .. '"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', "xxxxxx"), "overlap")
    fails("gap", st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', "xxxx"),
      "2 bytes of the data section before tensor 'a' belong to no tensor")
    fails("tail", st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', "xxxx"),
      "2 unexpected bytes after the last tensor's data")
    fails("neg", st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', "x"),
      "invalid data_offsets")
    fails("frac", st('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', "x"), "invalid shape")
    fails("huge", st('{"a":{"dtype":"F64","shape":[1e15,1e15],"data_offsets":[0,8]}}', "x"),
      "too many elements")
    fails("nofield", st('{"a":{"dtype":"U8","shape":[1]}}', "x"), "lacks dtype, shape or data_offsets")
    fails("meta", st('{"__metadata__":{"k":1}}'), "metadata value for 'k' is not a string")
    fails("dup", st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
      .. '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', "xx"), "appears twice")
    H.fails(function() ts.io.load_safetensors(S.dir) end, "is a directory")
  end)
end)

describe("ts.io.save_safetensors", function()
  it("round-trips tensors and metadata", function()
    local w = ts.tensor(base, "float32")
    ts.io.save_safetensors(path("m.safetensors"), {
      w = w, b = ts.tensor({ 1, 2 }), n = ts.tensor({ 3 }, "int64"), u = ts.tensor({ 255 }, "uint8"),
      empty = ts.zeros({ 0 }, "float32"), s = ts.tensor(4.5),
    }, { author = "spec" })
    local t, meta = ts.io.load_safetensors(path("m.safetensors"))
    H.tensor(t.w, base, "float32")
    H.tensor(t.b, { 1, 2 }, "float64")
    H.tensor(t.n, { 3 }, "int64")
    H.tensor(t.u, { 255 }, "uint8")
    assert.same({ 0 }, t.empty.shape)
    assert.equal(4.5, t.s:item())
    assert.same({ author = "spec" }, meta)
  end)

  it("sorts keys and pads the header with spaces to 8 bytes", function()
    ts.io.save_safetensors(path("k.safetensors"), { zeta = ts.ones({ 1 }), alpha = ts.ones({ 3 }, "uint8") })
    local raw = slurp(path("k.safetensors"))
    local n = string.unpack("<I8", raw)
    assert.equal(0, n % 8)
    local header = raw:sub(9, 8 + n)
    assert.truthy(header:find("alpha", 1, true) < header:find("zeta", 1, true))
    assert.truthy(header:match("} *$"))
    assert.equal(8 + n + 3 + 8, #raw)
    local _, meta = ts.io.load_safetensors(path("k.safetensors"))
    assert.same({}, meta)
  end)

  it("writes files another reader parses", function()
    ts.io.save_safetensors(path("p.safetensors"),
      { w = ts.tensor(base, "float32"), i = ts.tensor({ -7, 9 }, "int64") }, { k = "v" })
    assert.is_true(python(([==[
import json, struct, numpy as np
raw = open("%s/p.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
data = raw[8 + n:]
assert h["__metadata__"] == {"k": "v"}
def get(k, dt):
    b, e = h[k]["data_offsets"]
    return np.frombuffer(data[b:e], dtype=dt).reshape(h[k]["shape"])
assert h["w"]["dtype"] == "F32" and get("w", "<f4").tolist() == [[1.5, -2.25, 3.0], [4.0, 0.5, -6.75]]
assert h["i"]["dtype"] == "I64" and get("i", "<i8").tolist() == [-7, 9]
assert len(data) == 40
]==]):format(S.dir)))
  end)

  it("leaves the old file untouched and no temporary file when an entry is bad", function()
    local p = path("old.safetensors")
    ts.io.save_safetensors(p, { a = ts.ones({ 2 }) })
    local before = slurp(p)
    H.fails(function()
      ts.io.save_safetensors(p, { a = ts.zeros({ 2 }), b = ts.zeros({ 4 }), zzz = "not a tensor" })
    end, "value for 'zzz' is not a tensor (got string)")
    assert.equal(before, slurp(p))
    assert.equal("old.safetensors", listing())
    H.fails(function() ts.io.save_safetensors(p, { a = ts.ones({ 1 }) }, { k = 1 }) end,
      "metadata value for 'k' must be a string")
    H.fails(function() ts.io.save_safetensors(p, { [1] = ts.ones({ 1 }) }) end, "keys must be strings")
    H.fails(function() ts.io.save_safetensors(p, { __metadata__ = ts.ones({ 1 }) }) end,
      "cannot name a tensor")
    assert.equal(before, slurp(p))
    assert.equal("old.safetensors", listing())
  end)
end)
