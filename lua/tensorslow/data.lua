-- ts.data: mini-batch iteration.
-- Loaded by tensorslow/init.lua as require("tensorslow.data")(ts).
return function(ts) -- luacheck: no unused args
end
