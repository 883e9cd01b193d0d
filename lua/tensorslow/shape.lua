-- Shape op wrappers.
-- Loaded by tensorslow/init.lua as require("tensorslow.shape")(ts).
return function(ts) -- luacheck: no unused args
end
