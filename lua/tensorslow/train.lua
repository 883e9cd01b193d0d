-- Optimizers, initializers (ts.train, ts.initializers).
-- Loaded by tensorslow/init.lua as require("tensorslow.train")(ts).
return function(ts) -- luacheck: no unused args
end
