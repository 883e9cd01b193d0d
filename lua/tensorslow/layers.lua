-- ts.layers: dense layers.
-- Loaded by tensorslow/init.lua as require("tensorslow.layers")(ts).
return function(ts) -- luacheck: no unused args
end
