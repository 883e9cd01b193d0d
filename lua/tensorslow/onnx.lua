-- ts.onnx: ONNX models as tensorslow graphs. The file is parsed by the C module
-- tensorslow.onnx_pb (protobuf-c; src/onnx/) into plain tables; this file turns
-- them into a graph: graph inputs become placeholders, float initializers
-- Variables (integer ones, which decide shapes and cannot be trained, constants),
-- and each node goes through the converter registered for its op type. The
-- converters live in the map files (onnx_map.lua, onnx_map_index.lua,
-- onnx_map_math.lua), each `function(reg, ts, I)`; a converter gets the object
-- `n` built below (inputs, attributes, constants) and returns a node or an array
-- of nodes. Loaded on first use of ts.onnx (init.lua): require("tensorslow.onnx")(ts, I).
return function(ts, I)
  local pb = require "tensorslow.onnx_pb"
  local core = I.core
  local onnx = ts.onnx

  -- ONNX TensorProto.DataType -> the element type name core.from_bytes takes.
  local ELEM = { [1] = "float32", [2] = "uint8", [3] = "int8", [4] = "uint16", [5] = "int16",
    [6] = "int32", [7] = "int64", [9] = "bool", [10] = "float16", [11] = "float64",
    [12] = "uint32", [13] = "uint64", [16] = "bfloat16" }
  local REFUSED = { [0] = "undefined", [8] = "string", [14] = "complex64", [15] = "complex128" }
  -- and the tensorslow dtype each loads as
  local DTYPE = { float32 = "float32", float64 = "float64", float16 = "float32",
    bfloat16 = "float32", int8 = "int64", int16 = "int64", int32 = "int64", int64 = "int64",
    uint8 = "uint8", uint16 = "int64", uint32 = "int64", uint64 = "int64", bool = "uint8" }
  local ESIZE = { float32 = 4, float64 = 8, float16 = 2, bfloat16 = 2, int8 = 1, int16 = 2,
    int32 = 4, int64 = 8, uint8 = 1, uint16 = 2, uint32 = 4, uint64 = 8, bool = 1 }
  I.onnx_elem, I.onnx_dtype = ELEM, DTYPE

  ---------------------------------------------------------------- registry
  local converters = {}
  local function reg(op_type, fn)
    if type(op_type) ~= "string" or type(fn) ~= "function" then
      error("onnx registry: reg(op_type, function)", 2)
    end
    converters[op_type] = fn
  end
  for _, name in ipairs { "tensorslow.onnx_map", "tensorslow.onnx_map_index",
    "tensorslow.onnx_map_math" } do
    if package.searchpath(name, package.path) then I.require(name)(reg, ts, I) end
  end

  --- The op types with a converter, sorted.
  function onnx.ops()
    local r = {}
    for k in pairs(converters) do r[#r + 1] = k end
    table.sort(r)
    return r
  end

  ----------------------------------------------------------------- tensors
  local external
  -- A decoded TensorProto as a tensor; `where` names it in errors (file and what).
  local function to_tensor(t, where, dir)
    local kind = ELEM[t.data_type]
    if not kind then
      error(("%s: data type %s is not supported"):format(where,
        REFUSED[t.data_type] or tostring(t.data_type)), 0)
    end
    local dims = t.dims
    if #dims > 8 then error(("%s: rank %d exceeds 8"):format(where, #dims), 0) end
    local numel = 1
    for i, d in ipairs(dims) do
      if d < 0 then error(("%s: dimension %d is %d"):format(where, i, d), 0) end
      if d > 0 and numel > (1 << 62) // d then
        error(("%s: dims {%s} hold too many elements"):format(where, table.concat(dims, ", ")), 0)
      end
      numel = numel * d
    end
    local bytes = t.bytes
    if t.external then bytes = external(t, where, dir) end
    if bytes == nil then error(("%s: the tensor holds no data"):format(where), 0) end
    local esize = ESIZE[kind]
    if #bytes ~= numel * esize then
      error(("%s: %s {%s} needs %d bytes of data, the file holds %d"):format(where, kind,
        table.concat(dims, ", "), numel * esize, #bytes), 0)
    end
    local ok, r = pcall(core.from_bytes, kind, dims, bytes)
    if not ok then error(("%s: %s"):format(where, r), 0) end
    return r
  end

  -- External data: a file beside the model, read at the given offset and length.
  function external(t, where, dir)
    local loc = t.external.location
    if not dir then error(("%s: external data '%s' needs the model's file (load_string has none)")
      :format(where, tostring(loc)), 0) end
    if type(loc) ~= "string" or loc == "" then
      error(("%s: external data without a location"):format(where), 0)
    end
    if loc:sub(1, 1) == "/" or loc:find("\\", 1, true) or ("/" .. loc .. "/"):find("/../", 1, true)
        or loc:find("\0", 1, true) then
      error(("%s: external data location '%s' is refused: only files beside the model "
        .. "(no absolute path, no '..')"):format(where, loc), 0)
    end
    local off = math.tointeger(tonumber(t.external.offset or "0"))
    local len = t.external.length and math.tointeger(tonumber(t.external.length))
    if not off or off < 0 or (t.external.length and (not len or len < 0)) then
      error(("%s: external data offset/length are not valid"):format(where), 0)
    end
    local f, err = io.open(dir .. loc, "rb")
    if not f then error(("%s: external data: %s"):format(where, err), 0) end
    local size = f:seek("end")
    if off > size or (len and off + len > size) then
      f:close()
      error(("%s: external data '%s' holds %d bytes, offset %d length %s asked"):format(where,
        loc, size, off, tostring(len)), 0)
    end
    f:seek("set", off)
    local b = f:read(len or (size - off)) or ""
    f:close()
    return b
  end

  --- The tensor of a TensorProto file (the test data's .pb files).
  function onnx.load_tensor(path)
    local f, err = io.open(path, "rb")
    if not f then error("onnx.load_tensor: " .. err, 2) end
    local s = f:read("a")
    f:close()
    local ok, t = pcall(pb.decode_tensor, s)
    if not ok then error(("onnx.load_tensor: '%s': %s"):format(path, t), 2) end
    if t.data_type == 8 and t.strings then
      error(("onnx.load_tensor: '%s': string tensors are not supported"):format(path), 2)
    end
    local ok2, r = pcall(to_tensor, t, ("'%s'"):format(path))
    if not ok2 then error("onnx.load_tensor: " .. r, 2) end
    return r
  end

  ---------------------------------------------------------- the node object
  local N = {}
  N.__index = N

  function N:fail(msg)
    error(("%s: node '%s' (%s): %s"):format(self._file, self.name, self.op_type, msg), 0)
  end

  local ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR = 1, 2, 3, 4
  local ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 6, 7, 8
  local ATTR_KIND = { [1] = "number", [2] = "number", [3] = "string", [4] = "tensor", [5] = "graph",
    [6] = "table", [7] = "table", [8] = "table" }
  local ATTR_NAME = { [1] = "float", [2] = "int", [3] = "string", [4] = "tensor", [5] = "graph",
    [6] = "floats", [7] = "ints", [8] = "strings", [9] = "tensors", [10] = "graphs" }
  -- attribute name's value; with a default, its type must match the default's
  function N:attr(name, default)
    local a = self._attrs[name]
    if a == nil then return default end
    local t = a.type
    if default ~= nil and ATTR_KIND[t] ~= type(default) then
      self:fail(("attribute %s has type %s, expected %s"):format(name,
        ATTR_NAME[t] or tostring(t), type(default) == "number" and "a number" or
        type(default) == "table" and "a list" or "a " .. type(default)))
    end
    if t == ATTR_FLOAT then return a.f or 0.0
    elseif t == ATTR_INT then return a.i or 0
    elseif t == ATTR_STRING then return a.s or ""
    elseif t == ATTR_FLOATS then return a.floats or {}
    elseif t == ATTR_INTS then return a.ints or {}
    elseif t == ATTR_STRINGS then return a.strings or {}
    elseif t == ATTR_TENSOR then
      if not a.t then self:fail(("attribute %s has no tensor"):format(name)) end
      local ok, r = pcall(to_tensor, a.t, "attribute " .. name, self._dir)
      if not ok then self:fail(r) end
      return r
    end
    self:fail(("attribute %s has type %d, which is not supported"):format(name, t or 0))
  end

  function N:const(i)
    local name = self._names[i]
    if name == nil or name == "" then return nil end
    return self._consts[name]
  end

  function N:need_const(i, what)
    local v = self:const(i)
    if v == nil then
      if self.inputs[i] == nil then self:fail(("%s (input %d) is missing"):format(what, i)) end
      self:fail(("%s (input %d, '%s') must be known when the model is loaded: a constant, an "
        .. "initializer or an input bound with {bind = {...}}"):format(what, i, self._names[i]))
    end
    return v
  end

  -- The n-th ONNX dtype of input i, as an element name ("float32", "int32"...), when known.
  function N:elem(i) return self._elems[self._names[i]] end

  ------------------------------------------------------------------ import
  local LOAD_OPTS = I.keys { "trainable", "bind", "allow_missing" }
  local NOFOLD = I.keys { "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
    "Bernoulli", "Multinomial", "Dropout" }

  local function import(bytes, opts, file, dir, what)
    opts = I.check_options(what, opts, LOAD_OPTS, 3)
    local ok, m = pcall(pb.decode, bytes)
    if not ok then error(("%s: %s"):format(file, m), 0) end
    local gp = m.graph
    if not gp then error(("%s: the model has no graph"):format(file), 0) end
    local opsets = {}
    for _, o in ipairs(m.opset_import) do
      local dom = o.domain or ""
      opsets[dom == "ai.onnx" and "" or dom] = o.version or 0
    end
    for _, nd in ipairs(gp.node) do
      nd.name, nd.domain, nd.op_type = nd.name or "", nd.domain or "", nd.op_type or ""
    end
    local opset = opsets[""] or 1

    -- every op type first: an unknown one is named before anything is built
    local missing = {}
    for _, nd in ipairs(gp.node) do
      local dom = nd.domain == "ai.onnx" and "" or nd.domain
      if dom ~= "" or not converters[nd.op_type] then
        missing[#missing + 1] = nd
      end
    end
    if #missing > 0 and not opts.allow_missing then
      local nd = missing[1]
      error(("%s: node '%s' (%s%s): unknown op type %s (no converter; %d node(s) in all)"):format(
        file, nd.name, nd.domain ~= "" and nd.domain .. "." or "", nd.op_type, nd.op_type,
        #missing), 0)
    end

    local g = ts.Graph()
    local prev = ts.get_default_graph()
    ts.set_default_graph(g)
    -- inputs, outputs, variables: arrays (so sess:run(m.outputs, ...) takes them) whose
    -- entries are also reached by ONNX name (through __index)
    local function named() local by = {} return setmetatable({}, { __index = by }), by end
    local inputs, in_by = named()
    local outputs, out_by = named()
    local variables, var_by = named()
    local result = { graph = g, inputs = inputs, outputs = outputs, variables = variables,
      opset = opset, opsets = opsets, producer = m.producer_name, ir_version = m.ir_version }
    local values, consts, elems = {}, {}, {}
    local bind = opts.bind or {}
    local sess

    local function build()
      local initialized = {}
      for i, t in ipairs(gp.initializer) do
        local where = ("%s: initializer %d '%s'"):format(file, i, tostring(t.name))
        if type(t.name) ~= "string" or t.name == "" then error(where .. ": no name", 0) end
        if initialized[t.name] then error(where .. ": a second initializer of that name", 0) end
        local v = to_tensor(t, where, dir)
        initialized[t.name] = true
        elems[t.name] = ELEM[t.data_type]
        if opts.trainable ~= false and (v.dtype == "float32" or v.dtype == "float64") then
          local var = ts.Variable(v, { name = t.name, graph = g })
          values[t.name] = var
          result.variables[#result.variables + 1] = var
          var_by[t.name] = var
        else
          values[t.name] = ts.constant(v, { name = t.name, graph = g })
          consts[t.name] = v
        end
      end
      for _, vi in ipairs(gp.input) do
        local name = vi.name
        if not initialized[name] then
          local where = ("%s: graph input '%s'"):format(file, tostring(name))
          if vi.kind then error(("%s: a %s input is not supported"):format(where, vi.kind), 0) end
          local kind = ELEM[vi.elem_type]
          if not kind then
            error(("%s: data type %s is not supported"):format(where,
              REFUSED[vi.elem_type] or tostring(vi.elem_type)), 0)
          end
          local p
          if bind[name] ~= nil then
            local v = bind[name]
            if not ts.is_tensor(v) then error(("%s: bind.%s must be a tensor"):format(what, name), 0) end
            p = ts.constant(v, { name = name, graph = g })
            consts[name] = v
          else
            local okp, r = pcall(ts.placeholder, { name = name, graph = g, dtype = DTYPE[kind],
              shape = vi.dims })
            if not okp then
              error(("%s: %s"):format(where, (tostring(r):gsub("^[^:\n]*%.lua:%d+: ", ""))), 0)
            end
            p = r
          end
          values[name] = p
          elems[name] = kind
          result.inputs[#result.inputs + 1] = p
          in_by[name] = p
        end
      end

      -- nodes in dependency order (the file should have them sorted; a cycle or a
      -- dangling input is an error naming the node)
      local nodes, producer = gp.node, {}
      for i, nd in ipairs(nodes) do
        for _, o in ipairs(nd.output) do
          if o ~= "" then
            if producer[o] or values[o] then
              error(("%s: node '%s' (%s): output '%s' is produced twice"):format(file, nd.name,
                nd.op_type, o), 0)
            end
            producer[o] = i
          end
        end
      end
      local order, state = {}, {}
      for i = 1, #nodes do
        if not state[i] then
          local stack = { { i, 1 } }
          state[i] = 1
          while #stack > 0 do
            local top = stack[#stack]
            local nd = nodes[top[1]]
            local inp = nd.input[top[2]]
            if inp == nil then
              state[top[1]] = 2
              order[#order + 1] = top[1]
              stack[#stack] = nil
            else
              top[2] = top[2] + 1
              if inp ~= "" and not values[inp] then
                local j = producer[inp]
                if not j then
                  error(("%s: node '%s' (%s): input '%s' is not a graph input, an initializer or "
                    .. "another node's output"):format(file, nd.name, nd.op_type, inp), 0)
                end
                if state[j] == 1 then
                  error(("%s: node '%s' (%s): input '%s' depends on the node's own output (a cycle)")
                    :format(file, nd.name, nd.op_type, inp), 0)
                end
                if not state[j] then
                  state[j] = 1
                  stack[#stack + 1] = { j, 1 }
                end
              end
            end
          end
        end
      end

      for _, i in ipairs(order) do
        local nd = nodes[i]
        local attrs = {}
        for _, a in ipairs(nd.attribute) do attrs[a.name] = a end
        local n = setmetatable({ op_type = nd.op_type, name = nd.name, domain = nd.domain,
          opset = opsets[nd.domain == "ai.onnx" and "" or nd.domain] or opset,
          inputs = {}, ninputs = #nd.input, noutputs = #nd.output, _attrs = attrs,
          _names = nd.input, _consts = consts, _elems = elems, _file = file, _dir = dir,
          outputs = nd.output }, N)
        local allconst = #nd.input > 0 or nd.op_type == "Constant"
        local cut = false -- allow_missing: an input comes from a node left out
        for k, inp in ipairs(nd.input) do
          if inp ~= "" then
            n.inputs[k] = values[inp]
            if values[inp] == nil then cut = true end
            if consts[inp] == nil then allconst = false end
          end
        end
        local fn = converters[nd.op_type]
        if fn and not cut and (nd.domain == "" or nd.domain == "ai.onnx") then
          local okc, r = xpcall(fn, function(msg)
            msg = tostring(msg)
            if msg:sub(1, #file + 2) == file .. ": " then return msg end
            return ("%s: node '%s' (%s): %s"):format(file, nd.name, nd.op_type,
              (msg:gsub("^[^:\n]*%.lua:%d+: ", "")))
          end, n)
          if not okc then error(r, 0) end
          local outs = (I.is_node(r) or ts.is_tensor(r)) and { r } or r
          if type(outs) ~= "table" then n:fail("the converter returned no node") end
          for k, o in ipairs(nd.output) do
            local v = outs[k]
            if o ~= "" then
              if v == nil then n:fail(("output %d ('%s') was not produced"):format(k, o)) end
              if ts.is_tensor(v) then
                consts[o] = v
                v = ts.constant(v, { name = o, graph = g })
              else
                v = ts.identity(v, { name = o })
              end
              values[o] = v
              if n._out_elems and n._out_elems[k] then elems[o] = n._out_elems[k] end
              if allconst and consts[o] == nil and not NOFOLD[nd.op_type] then
                sess = sess or ts.Session(g)
                local okr, t = pcall(sess.run, sess, v)
                if okr then consts[o] = t end
              end
            end
          end
        end
      end
      for _, vi in ipairs(gp.output) do
        local v = values[vi.name]
        if not v then
          if opts.allow_missing then goto continue end
          error(("%s: graph output '%s' is not produced by any node"):format(file,
            tostring(vi.name)), 0)
        end
        result.outputs[#result.outputs + 1] = v
        out_by[vi.name] = v
        ::continue::
      end
    end
    local okb, err = pcall(build)
    if sess then sess:close() end
    ts.set_default_graph(prev)
    if not okb then error(err, 0) end
    return result
  end

  local function dir_of(path)
    return path:match("^(.*/)") or "./"
  end

  --- load(path [, {trainable=, bind=, allow_missing=}]): the model in a new graph.
  function onnx.load(path, opts)
    if type(path) ~= "string" then error("onnx.load: path must be a string", 2) end
    local f, err = io.open(path, "rb")
    if not f then error("onnx.load: " .. err, 2) end
    local bytes = f:read("a")
    f:close()
    if not bytes then error(("onnx.load: '%s' could not be read (a directory?)"):format(path), 2) end
    local ok, r = pcall(import, bytes, opts, ("'%s'"):format(path), dir_of(path), "onnx.load")
    if not ok then error("onnx.load: " .. tostring(r), 2) end
    return r
  end

  --- load_string(bytes [, opts]): the same from the file's bytes.
  function onnx.load_string(bytes, opts)
    if type(bytes) ~= "string" then error("onnx.load_string: bytes must be a string", 2) end
    local ok, r = pcall(import, bytes, opts, "model", nil, "onnx.load_string")
    if not ok then error("onnx.load_string: " .. tostring(r), 2) end
    return r
  end

  -- save/save_string: onnx_export.lua, loaded at the first save (tail calls: errors
  -- point at the caller)
  local export
  function onnx.save(...)
    export = export or I.require("tensorslow.onnx_export")(ts, I)
    return export.save(...)
  end
  function onnx.save_string(...)
    export = export or I.require("tensorslow.onnx_export")(ts, I)
    return export.save_string(...)
  end

  return onnx
end
