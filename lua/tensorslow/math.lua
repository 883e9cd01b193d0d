-- Element-wise, comparison and reduction op wrappers.
-- Loaded by tensorslow/init.lua as require("tensorslow.math")(ts).
return function(ts) -- luacheck: no unused args
end
