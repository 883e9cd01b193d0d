-- Scopes (TensorFlow 1.x): ts.name_scope prefixes the names of the nodes made
-- inside it; ts.variable_scope does too and prefixes the names ts.get_variable
-- looks up or creates, which is how weights are shared.
-- Loaded by tensorslow/init.lua as require("tensorslow.scopes")(ts, I).
--
-- The hook: every node is named by core.node, core.source or core.custom (the
-- name given, or the op's); this file wraps the three so that, inside a scope,
-- the name gets the scope's prefix before the C side makes it unique. Outside
-- every scope the wrappers call through unchanged. I.unscoped(f, ...) runs f
-- with the prefix off (optimizer slots and the global step are named after
-- their variable or fixed, wherever they are made).
--
return function(ts, I)
  local core, is_node, is_tensor = I.core, I.is_node, I.is_tensor

  ------------------------------------------------------------ options

  -- I.check_options is defined in init.lua.
  local check_options = I.check_options

  ------------------------------------------------------------ the naming hook

  -- The open scopes, innermost last: { prefix = "a/b/", vprefix = "a/" (variable
  -- scopes only), reuse = false | true | "auto", initializer = f | nil }.
  local stack = {}
  local prefix = ""   -- stack[#stack].prefix, or ""
  local bypass = 0    -- I.unscoped depth

  local raw_node, raw_source, raw_custom = core.node, core.source, core.custom
  local function scoped(name, default)
    if prefix == "" or bypass > 0 then return name end
    if name == nil then return prefix .. default end
    if type(name) ~= "string" then return name end -- the C side reports it
    return prefix .. name
  end
  core.node = function(g, op, name, ...) return raw_node(g, op, scoped(name, op), ...) end
  core.source = function(g, kind, name, ...) return raw_source(g, kind, scoped(name, kind), ...) end
  core.custom = function(g, typ, name, ...) return raw_custom(g, typ, scoped(name, typ), ...) end

  --- The name a node asking for `name` gets before uniquing ("a/b/name" in scopes a, b).
  function I.scoped_name(name) return scoped(name, name) end

  local Bypass = { __close = function() bypass = bypass - 1 end }
  --- f(...) with the scope prefix off.
  function I.unscoped(f, ...)
    bypass = bypass + 1
    local _ <close> = setmetatable({}, Bypass)
    return f(...)
  end

  ------------------------------------------------------------ name scopes

  -- graph -> { [full scope name] = true }: scope names taken (weak: die with the graph).
  local used = setmetatable({}, { __mode = "k" })

  -- A unique scope name under the current prefix: base, base_1, ... (TF1: entering
  -- name_scope("b") twice gives b/ and b_1/). A name ending in "/" is taken as it
  -- is (re-entering a scope); "" is the top level.
  local function unique_scope(graph, name)
    if name == "" then return "" end
    if name:sub(-1) == "/" then return name:sub(1, -2) end
    local base = prefix .. name
    local taken = used[graph] or {}
    used[graph] = taken
    local cand, k = base, 0
    while taken[cand] or graph:get(cand) do
      k = k + 1
      cand = base .. "_" .. k
    end
    taken[cand] = true
    return cand
  end

  local Scope = {}
  Scope.__index = Scope
  function Scope:__tostring() return ("%s(%q)"):format(self.kind, self.name) end

  local function set_prefix() prefix = stack[#stack] and stack[#stack].prefix or "" end

  --- scope:close(): leaves the scope (also its <close>); closing twice does nothing,
  -- closing it while a scope opened inside it is still open is an error.
  function Scope:close()
    if getmetatable(self) ~= Scope then
      error("close: call it as a method, scope:close()", 2)
    end
    local entry = self.entry
    if entry.closed then return end
    if stack[#stack] ~= entry then
      error(("%s: cannot close '%s' while the scope '%s' inside it is open (close the innermost "
        .. "first)"):format(self.kind, self.name, stack[#stack].prefix:sub(1, -2)), 2)
    end
    entry.closed = true
    stack[#stack] = nil
    set_prefix()
  end
  Scope.__close = Scope.close

  local function push(kind, name, entry)
    stack[#stack + 1] = entry
    prefix = entry.prefix
    return setmetatable({ kind = kind, name = name, entry = entry }, Scope)
  end

  -- Leaves the scope of a function form however f ends, with the scopes f left open.
  local Unwind = { __close = function(self)
    local entry = self.entry
    if entry.closed then return end
    for i = #stack, 1, -1 do
      local e = stack[i]
      stack[i] = nil
      e.closed = true
      if e == entry then break end
    end
    set_prefix()
  end }

  -- f(scope) inside the scope; returns f's results.
  local function run_in(scope, f)
    local _ <close> = setmetatable({ entry = scope.entry }, Unwind)
    return f(scope)
  end

  local function check_name(what, name)
    if type(name) ~= "string" then
      error(("%s: the name must be a string, got %s"):format(what, type(name)), 3)
    end
  end

  local function top() return stack[#stack] or { prefix = "", vprefix = "", reuse = false } end

  --- name_scope(name [, f]): nodes made inside get names "name/..." (nested scopes
  -- add up: "outer/inner/..."). With f: runs f(scope) inside and returns its
  -- results. Without: returns the scope, to close (local s <close> = ts.name_scope("b")).
  -- A name already used in the default graph gets _1, _2 ...; "a/" re-enters scope
  -- "a" exactly; "" is the top level. scope.name is the scope's full name.
  function ts.name_scope(name, f)
    check_name("name_scope", name)
    if f ~= nil and type(f) ~= "function" then
      error(("name_scope: the second argument must be a function, got %s"):format(type(f)), 2)
    end
    local full = unique_scope(ts.get_default_graph(), name)
    local t = top()
    local scope = push("name_scope", full, { prefix = full == "" and "" or full .. "/",
      vprefix = t.vprefix, reuse = t.reuse, initializer = t.initializer })
    if f == nil then return scope end
    return run_in(scope, f)
  end

  --- I.name_scope(graph, name, f): f() in a name scope unique in graph (the metrics,
  -- whose graph is their inputs').
  function I.name_scope(graph, name, f)
    local full = unique_scope(graph, name)
    local t = top()
    return run_in(push("name_scope", full, { prefix = full .. "/", vprefix = t.vprefix,
      reuse = t.reuse, initializer = t.initializer }), f)
  end

  ------------------------------------------------------------ variable scopes

  local REUSE = { [true] = true, [false] = true, auto = true }
  local VS_OPTS = { reuse = true, initializer = true }

  --- variable_scope(name [, {reuse=, initializer=}] [, f]): ts.get_variable inside
  -- looks up or creates "name/<var>"; nodes are named in a name scope "name" (made
  -- unique like name_scope's, so a second entry names its ops "name_1/..." while its
  -- variables stay "name/..."). reuse = true: get_variable returns existing variables
  -- (inherited by nested scopes, as in TF1); "auto": creates those that are missing.
  -- initializer: the default of get_variable inside.
  function ts.variable_scope(name, opts, f)
    check_name("variable_scope", name)
    if f == nil and type(opts) == "function" then opts, f = nil, opts end
    opts = check_options("variable_scope", opts, VS_OPTS)
    if f ~= nil and type(f) ~= "function" then
      error(("variable_scope: the last argument must be a function, got %s"):format(type(f)), 2)
    end
    if name == "" or name:find("^/") or name:find("/$") then
      error(("variable_scope: the name must be non-empty and not begin or end with '/', got %q")
        :format(name), 2)
    end
    local reuse = opts.reuse
    if reuse == nil then reuse = false end
    if not REUSE[reuse] then
      error(("variable_scope: reuse must be true, false or \"auto\", got %s"):format(tostring(reuse)), 2)
    end
    local init = opts.initializer
    if init ~= nil and type(init) ~= "function" and not is_tensor(init) and type(init) ~= "number" then
      error(("variable_scope: initializer must be a function of a shape, a tensor or a number, got %s")
        :format(type(init)), 2)
    end
    local t = top()
    -- reuse is inherited: a nested scope cannot turn it off (TF1)
    if t.reuse == true or (t.reuse == "auto" and reuse == false) then reuse = t.reuse end
    local full = unique_scope(ts.get_default_graph(), name)
    local vname = t.vprefix .. name
    local scope = push("variable_scope", vname, { prefix = full .. "/", vprefix = vname .. "/",
      reuse = reuse, initializer = init or t.initializer })
    scope.reuse = reuse
    if f == nil then return scope end
    return run_in(scope, f)
  end

  local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end
  local GV_OPTS = { initializer = true, dtype = true, trainable = true, regularizer = true,
                    graph = true }

  --- get_variable(name, shape [, {initializer=, dtype=, trainable=, regularizer=, graph=}]):
  -- the variable "<variable scopes>/name" of the default graph (or graph): created
  -- when missing (shape required unless initializer is a value), returned when the
  -- scope has reuse (checking shape and dtype when given). Creating one that exists,
  -- or reusing one that does not, is an error that says which option to change.
  function ts.get_variable(name, shape, opts)
    if type(name) ~= "string" or name == "" then
      error(("get_variable: the name must be a non-empty string, got %s"):format(
        type(name) == "string" and '""' or type(name)), 2)
    end
    if opts == nil and type(shape) == "table" and not is_tensor(shape) and not is_node(shape)
      and shape[1] == nil and next(shape) ~= nil then
      shape, opts = nil, shape
    end
    opts = check_options("get_variable", opts, GV_OPTS)
    if shape ~= nil then shape = I.int_list(shape, "get_variable: shape", 2) end
    for i, d in ipairs(shape or {}) do
      if d < 0 then
        error(("get_variable: dimension %d of the shape is %d; variables need known sizes"):format(i, d), 2)
      end
    end
    local graph = opts.graph or ts.get_default_graph()
    local t = top()
    local full = t.vprefix .. name
    local existing = graph:get(full)
    local reuse = t.reuse
    if existing then
      if existing.op ~= "variable" then
        error(("get_variable: '%s' is a %s, not a variable"):format(full, existing.op), 2)
      end
      if reuse == false then
        error(("get_variable: Variable %s already exists: pass reuse = true to share it "
          .. "(ts.variable_scope(name, {reuse = true}, f)), or choose another name"):format(full), 2)
      end
      if shape then
        local have = existing.shape
        local same = #have == #shape
        for i = 1, #shape do same = same and have[i] == shape[i] end
        if not same then
          error(("get_variable: Variable %s has shape %s, asked for %s"):format(full, shape_str(have),
            shape_str(shape)), 2)
        end
      end
      if opts.dtype and opts.dtype ~= existing.dtype then
        error(("get_variable: Variable %s has dtype %s, asked for %s"):format(full, existing.dtype,
          tostring(opts.dtype)), 2)
      end
      return existing
    end
    if reuse == true then
      error(("get_variable: Variable %s does not exist: reuse = true only shares variables made "
        .. "before (create it in a scope without reuse, or use reuse = \"auto\")"):format(full), 2)
    end
    local dtype = opts.dtype or "float64"
    local init = opts.initializer or t.initializer or ts.initializers.glorot_uniform
    local value
    if type(init) == "function" then
      if not shape then
        error(("get_variable: creating %s needs a shape (or a value as initializer)"):format(full), 2)
      end
      value = init(shape, { dtype = dtype })
    elseif type(init) == "number" then
      value = shape and ts.fill(shape, init, dtype) or ts.tensor(init, dtype)
    elseif is_tensor(init) or (type(init) == "table" and not is_node(init)) then
      value = is_tensor(init) and init:cast(dtype) or ts.tensor(init, dtype)
      if shape then
        local have, same = value.shape, #value.shape == #shape
        for i = 1, #shape do same = same and have[i] == shape[i] end
        if not same then
          error(("get_variable: the initializer of %s has shape %s, the shape asked is %s"):format(full,
            shape_str(have), shape_str(shape)), 2)
        end
      end
    else
      error(("get_variable: initializer must be a function of a shape, a tensor or a number, got %s")
        :format(type(init)), 2)
    end
    local v = I.unscoped(ts.Variable, value, { graph = graph, name = full, dtype = dtype })
    if opts.trainable == false then I.not_trainable[v] = true end
    if opts.regularizer ~= nil then I.add_regularizer("get_variable", v, opts.regularizer, 2) end
    return v
  end
end
