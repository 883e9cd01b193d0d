-- ts.io against hostile paths and names: FIFOs, devices and symbolic links
-- where a file is expected, stale temporary files, embedded NUL bytes, and a
-- safetensors header with very many entries.
local ts = require "tensorslow"
local H = require "helpers"

local CLEAN = H.CLEAN
local S = H.scratch()
local path, write, slurp, listing = S.path, S.write, S.slurp, S.listing
before_each(S.setup)
after_each(S.teardown)
local function sh(cmd) return os.execute(CLEAN .. "sh -c '" .. cmd .. "'") == true end

describe("ts.io loaders on files that are not regular files", function()
  it("refuse a FIFO at once instead of blocking in open", function()
    local fifo = path("fifo")
    assert(sh("mkfifo " .. fifo))
    -- Safety net should a regression block in open(): a writer shows up after
    -- 10 s (and gives up after 20), so the spec fails instead of hanging.
    assert(sh("(timeout 20 sh -c \"sleep 10; exec 3>" .. fifo .. "\") >/dev/null 2>&1 &"))
    for _, fn in ipairs { "load_npy", "load_idx", "load_safetensors" } do
      H.fails(function() ts.io[fn](fifo) end, fn .. ": '" .. fifo .. "' is a FIFO, not a regular file")
    end
  end)

  it("refuse a character device, naming it", function()
    H.fails(function() ts.io.load_npy("/dev/null") end,
      "load_npy: '/dev/null' is a character device, not a regular file")
    H.fails(function() ts.io.load_idx("/dev/zero") end,
      "load_idx: '/dev/zero' is a character device, not a regular file")
  end)

  it("still read a regular file through a symbolic link", function()
    ts.io.save_npy(path("real.npy"), ts.tensor { 1, 2, 3 })
    assert(sh("ln -s real.npy " .. path("link.npy")))
    H.tensor(ts.io.load_npy(path("link.npy")), { 1, 2, 3 })
  end)
end)

describe("ts.io savers replace only regular files", function()
  it("refuse a symbolic link and leave it and its target as they were", function()
    local real = write("real.npy", "old contents")
    assert(sh("ln -s real.npy " .. path("link.npy")))
    H.fails(function() ts.io.save_npy(path("link.npy"), ts.ones { 2 }) end,
      "save_npy: '" .. path("link.npy") .. "' is a symbolic link, not a regular file: not replaced")
    H.fails(function() ts.io.save_safetensors(path("link.npy"), { a = ts.ones { 2 } }) end,
      "save_safetensors: '" .. path("link.npy") .. "' is a symbolic link")
    assert.is_true(sh("test -L " .. path("link.npy")))
    assert.equal("old contents", slurp(real))
    assert.equal("link.npy real.npy", listing())
    -- a dangling link is a link too: nothing is created at its target
    assert(sh("ln -s gone.npy " .. path("dangling.npy")))
    H.fails(function() ts.io.save_npy(path("dangling.npy"), ts.ones { 2 }) end, "is a symbolic link")
    assert.equal("dangling.npy link.npy real.npy", listing())
  end)

  it("refuse a FIFO (a special file) and leave it a FIFO", function()
    local fifo = path("fifo")
    assert(sh("mkfifo " .. fifo))
    H.fails(function() ts.io.save_npy(fifo, ts.ones { 2 }) end,
      "save_npy: '" .. fifo .. "' is a FIFO, not a regular file: not replaced")
    assert.is_true(sh("test -p " .. fifo))
    assert.equal("fifo", listing())
  end)

  it("keep a regular file's permissions", function()
    local p = path("m.npy")
    ts.io.save_npy(p, ts.ones { 1 })
    assert(sh("chmod 640 " .. p))
    ts.io.save_npy(p, ts.zeros { 2 })
    local f = assert(io.popen(CLEAN .. "stat -c %a " .. p))
    assert.equal("640", f:read("l"))
    f:close()
    H.tensor(ts.io.load_npy(p), { 0, 0 })
  end)
end)

describe("ts.io temporary files", function()
  it("a stale temporary file left beside the target is gone after the next save", function()
    write(".x.npy.tmp-tensorslow", ("stale data of a killed save"):rep(100))
    write(".y.safetensors.tmp-tensorslow", "stale")
    ts.io.save_npy(path("x.npy"), ts.ones { 3 })
    ts.io.save_safetensors(path("y.safetensors"), { a = ts.ones { 1 } })
    assert.equal("x.npy y.safetensors", listing())
    H.tensor(ts.io.load_npy(path("x.npy")), { 1, 1, 1 })
  end)

  it("a symbolic link planted at the temporary name is not written through", function()
    local victim = write("victim", "precious")
    assert(sh("ln -s victim " .. path(".x.npy.tmp-tensorslow")))
    ts.io.save_npy(path("x.npy"), ts.ones { 3 })
    assert.equal("precious", slurp(victim))
    assert.equal("victim x.npy", listing())
    H.tensor(ts.io.load_npy(path("x.npy")), { 1, 1, 1 })
  end)

  it("a save killed with SIGKILL leaves at most the fixed temporary, removed by the next save", function()
    -- A child process saves 64 MB over and over until it is killed.
    local target = path("big.npy")
    local code = ([[package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "%s"
local ts = require "tensorslow"
local t = ts.zeros({ 8 * 1024 * 1024 })
while true do ts.io.save_npy("%s", t) end]]):format(package.cpath, target)
    write("child.lua", code)
    -- the child runs without the ASan preload: only the plain build is used then
    if package.cpath:find("asan", 1, true) then return end
    assert(sh("{ lua5.4 " .. path("child.lua")
      .. " & pid=$!; i=0; while [ ! -e " .. target .. " ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done;"
      .. " sleep 0.2; kill -9 $pid; wait $pid; } 2>/dev/null; true"))
    os.remove(path("child.lua"))
    local names = listing()
    assert.truthy(names == "big.npy" or names == ".big.npy.tmp-tensorslow big.npy", names)
    ts.io.save_npy(target, ts.ones { 2 })
    assert.equal("big.npy", listing())
  end)
end)

describe("ts.io names with an embedded NUL byte", function()
  it("are refused as file names by every function, before anything is written", function()
    H.fails(function() ts.io.save_npy(path("x\0evil"), ts.ones { 1 }) end,
      "save_npy: file name contains a NUL byte at position " .. (#S.dir + 3)
        .. " (after '" .. S.dir .. "/x')")
    H.fails(function() ts.io.save_safetensors(path("x\0evil"), { a = ts.ones { 1 } }) end,
      "save_safetensors: file name contains a NUL byte")
    assert.equal("", listing())
    ts.io.save_npy(path("x"), ts.ones { 1 })
    for _, fn in ipairs { "load_npy", "load_idx", "load_safetensors" } do
      H.fails(function() ts.io[fn](path("x\0.npy")) end, fn .. ": file name contains a NUL byte")
    end
  end)

  it("are refused as tensor names and metadata in safetensors", function()
    local p = path("m.safetensors")
    H.fails(function() ts.io.save_safetensors(p, { ["a\0b"] = ts.ones { 1 }, a = ts.ones { 2 } }) end,
      "save_safetensors: tensor name contains a NUL byte at position 2 (after 'a')")
    H.fails(function() ts.io.save_safetensors(p, { a = ts.ones { 1 } }, { ["k\0"] = "v" }) end,
      "save_safetensors: metadata key contains a NUL byte at position 2 (after 'k')")
    H.fails(function() ts.io.save_safetensors(p, { a = ts.ones { 1 } }, { k = "v\0w" }) end,
      "save_safetensors: metadata value for 'k' contains a NUL byte at position 2 (after 'v')")
    assert.equal("", listing())
  end)

  it("are refused when a safetensors header spells one as \\u0000", function()
    local function st(header, data) return string.pack("<I8", #header) .. header .. data end
    -- cJSON would cut "a\u0000b" to "a": two names would become one, or a name would change
    local p = write("nul.safetensors", st('{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
      .. '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', "xy"))
    H.fails(function() ts.io.load_safetensors(p) end,
      "load_safetensors: '" .. p .. "': safetensors header holds a NUL character (\\u0000)")
    p = write("meta.safetensors", st('{"__metadata__":{"k":"v\\u0000w"}}', ""))
    H.fails(function() ts.io.load_safetensors(p) end, "holds a NUL character")
    -- an escaped backslash before u0000 is plain text
    p = write("ok.safetensors", st('{"a\\\\u0000":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', "x"))
    local t = ts.io.load_safetensors(p)
    H.tensor(t["a\\u0000"], { 120 }, "uint8")
  end)

  it("are refused by the Saver, naming its method", function()
    local g = ts.Graph()
    ts.Variable({ 1, 2 }, { graph = g, name = "w" })
    local sess <close> = ts.Session(g)
    local saver = ts.train.Saver()
    H.fails(function() saver:save(sess, path("ck\0pt")) end, "save: path contains a NUL byte")
    H.fails(function() saver:restore(sess, path("ck\0pt")) end, "restore: path contains a NUL byte")
    assert.equal("", listing())
  end)
end)

describe("ts.io.load_safetensors with many entries", function()
  -- A header of n one-byte tensors t1..tn (each its own byte of data).
  local function many(n, dup)
    local parts = {}
    for i = 1, n do
      local name = (dup and i == n) and "t1" or ("t" .. i)
      parts[i] = ('"%s":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}'):format(name, i - 1, i)
    end
    local header = "{" .. table.concat(parts, ",") .. "}"
    local data = {}
    for i = 1, n do data[i] = string.char(i % 251) end
    return string.pack("<I8", #header) .. header .. table.concat(data)
  end

  it("loads 50000 entries (names checked with a hash set, not pairwise)", function()
    local p = write("many.safetensors", many(50000))
    local t = ts.io.load_safetensors(p)
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    assert.equal(50000, count)
    H.tensor(t.t1, { 1 }, "uint8")
    H.tensor(t.t250, { 250 }, "uint8")
    H.tensor(t.t50000, { 50000 % 251 }, "uint8")
  end)

  it("finds a duplicate name among 50000 entries", function()
    local p = write("dup.safetensors", many(50000, true))
    H.fails(function() ts.io.load_safetensors(p) end,
      "load_safetensors: '" .. p .. "': tensor name 't1' appears twice")
  end)
end)

describe("an empty Fortran-order .npy with huge other dims", function()
  -- found by fuzz_npy: the reordering's strides overflowed (UBSan) although nothing is read
  it("loads as an empty tensor of that shape", function()
    local file = os.tmpname()
    for _, order in ipairs { "True", "False" } do
      local hdr = ("{'descr': '<f8', 'fortran_order': %s, "
        .. "'shape': (0, 1099511627776, 1099511627776, 3), }")
        :format(order)
      hdr = hdr .. string.rep(" ", (64 - (11 + #hdr) % 64) % 64) .. "\n"
      local f = assert(io.open(file, "wb"))
      f:write("\147NUMPY\1\0", string.pack("<I2", #hdr), hdr)
      f:close()
      local t = ts.io.load_npy(file)
      assert.same({ 0, 2 ^ 40 // 1, 2 ^ 40 // 1, 3 }, t.shape)
      assert.equal(0, t:numel())
      assert.equal("float64", t.dtype)
    end
    os.remove(file)
  end)
end)
