-- Symbolic gradients (ts.gradients, ts.RegisterGradient).
-- Loaded by tensorslow/init.lua as require("tensorslow.grad")(ts).
return function(ts) -- luacheck: no unused args
end
