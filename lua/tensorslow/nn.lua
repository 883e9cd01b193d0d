-- Neural-network op wrappers.
-- Loaded by tensorslow/init.lua as require("tensorslow.nn")(ts).
return function(ts) -- luacheck: no unused args
end
