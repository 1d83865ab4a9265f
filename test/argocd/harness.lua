-- Test harness for deploy/argocd/health.lua: reads a Lua table literal (the Rollout) from stdin into the global
-- `obj`, as Argo CD does, runs the health script given as the first argument, and prints status and message.
local source = io.read("*a")
obj = assert(loadstring("return " .. source))()
local hs = assert(loadfile(arg[1]))()
io.write(hs.status, "\n", hs.message, "\n")
