-- ts.io helpers written in Lua.
-- Loaded by tensorslow/init.lua as require("tensorslow.io")(ts).
return function(ts) -- luacheck: no unused args
end
