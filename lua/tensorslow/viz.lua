-- Seeing the graph: ts.dot (Graphviz DOT), g:write_dot(path), ts.summary.
return function(ts, I)
  local graph_methods = I.graph_methods

  local function shape_str(s)
    if s == nil then return "?" end
    local parts = {}
    for i, d in ipairs(s) do parts[i] = d < 0 and "?" or tostring(d) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end

  local function quote(s)
    return '"' .. tostring(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n") .. '"'
  end

  local styles = {
    placeholder = 'shape=box, style="rounded,filled", fillcolor="#cfe8ff"',
    variable = 'shape=box, style=filled, fillcolor="#ffe7b3"',
    constant = 'shape=box, style=filled, fillcolor="#e8e8e8"',
  }

  -- The nodes to draw: every node of a graph, or what the given nodes depend on.
  local function collect(what)
    if ts.is_node(what) then what = { what } end
    if getmetatable(what) == I.core.Graph_mt then return what:nodes(), what end
    if type(what) ~= "table" or not ts.is_node(what[1]) then
      error("expected a graph, a node or an array of nodes", 3)
    end
    local seen, list, stack = {}, {}, {}
    for _, n in ipairs(what) do stack[#stack + 1] = n end
    while #stack > 0 do
      local n = table.remove(stack)
      if not seen[n] then
        seen[n] = true
        list[#list + 1] = n
        for _, i in ipairs(n.inputs) do stack[#stack + 1] = i end
      end
    end
    table.sort(list, function(a, b) return a.id < b.id end)
    return list, what[1].graph
  end

  --- ts.dot(node_or_graph): the graph in Graphviz DOT. Nodes are labelled with
  -- name, op, shape and dtype; nodes whose names share a prefix before "/"
  -- (gradients/..., dense/...) are drawn together in a cluster.
  function ts.dot(what)
    local nodes = collect(what)
    local out = { "digraph tensorslow {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];' }
    local clusters, order = {}, {}
    for _, n in ipairs(nodes) do
      local label = ("%s\\n%s %s %s"):format(n.name, n.op, shape_str(n.shape), n.dtype)
      local style = styles[n.op] or 'shape=ellipse'
      local line = ("    n%d [label=%s, %s];"):format(n.id, quote(label):gsub("\\\\n", "\\n"), style)
      local prefix = n.name:match("^(.-)/") or ""
      if not clusters[prefix] then
        clusters[prefix] = {}
        order[#order + 1] = prefix
      end
      table.insert(clusters[prefix], line)
    end
    for k, prefix in ipairs(order) do
      if prefix == "" then
        for _, l in ipairs(clusters[prefix]) do out[#out + 1] = l:sub(3) end
      else
        out[#out + 1] = ("  subgraph cluster_%d {"):format(k)
        out[#out + 1] = ("    label=%s; style=dashed;"):format(quote(prefix))
        for _, l in ipairs(clusters[prefix]) do out[#out + 1] = l end
        out[#out + 1] = "  }"
      end
    end
    local drawn = {}
    for _, n in ipairs(nodes) do drawn[n] = true end
    for _, n in ipairs(nodes) do
      for _, i in ipairs(n.inputs) do
        if drawn[i] then out[#out + 1] = ("  n%d -> n%d;"):format(i.id, n.id) end
      end
    end
    out[#out + 1] = "}"
    return table.concat(out, "\n") .. "\n"
  end

  --- g:write_dot(path): writes ts.dot(g) to a file.
  function graph_methods.write_dot(g, path)
    local f, err = io.open(path, "w")
    if not f then error("write_dot: cannot open " .. tostring(err), 2) end
    f:write(ts.dot(g))
    f:close()
    return path
  end

  --- ts.summary(graph_or_nodes): a readable table of the variables with their
  -- shapes, dtypes and parameter counts, and the total; also returns the total.
  function ts.summary(what)
    local nodes = collect(what or ts.get_default_graph())
    local rows, total = {}, 0
    local wname, wshape = #"variable", #"shape"
    for _, n in ipairs(nodes) do
      if n.op == "variable" then
        local count = 1
        for _, d in ipairs(n.shape) do count = count * d end
        local s = shape_str(n.shape)
        rows[#rows + 1] = { n.name, s, n.dtype, count }
        total = total + count
        wname, wshape = math.max(wname, #n.name), math.max(wshape, #s)
      end
    end
    local fmt = "%-" .. wname .. "s  %-" .. wshape .. "s  %-7s  %12s"
    local lines = { fmt:format("variable", "shape", "dtype", "parameters") }
    lines[2] = string.rep("-", #lines[1])
    for _, r in ipairs(rows) do lines[#lines + 1] = fmt:format(r[1], r[2], r[3], r[4]) end
    lines[#lines + 1] = string.rep("-", #lines[1])
    lines[#lines + 1] = fmt:format("total", "", "", total)
    return table.concat(lines, "\n"), total
  end
end
