-- Argo CD health check for vireo.dev/Rollout (Lua 5.1). Install it as the argocd-cm key
-- resource.customizations.health.vireo.dev_Rollout (README, "GitOps"). It reads the kstatus conditions Vireo
-- writes: Stalled=True is Degraded, a paused or suspended rollout is Suspended, Ready=True is Healthy, and
-- anything else (a rollout in flight, a generation not yet observed) is Progressing.
local hs = { status = "Progressing", message = "Waiting for the Vireo controller to observe the Rollout" }

local function condition(status, type)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the Vireo controller to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
  return hs
end

local suspended = obj.spec ~= nil and obj.spec.suspend == true
if status.phase == "Paused" or (suspended and status.phase ~= "Healthy") then
  hs.status = "Suspended"
  hs.message = status.message or ("Paused: " .. (status.pauseReason or "Suspended"))
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

local reconciling = condition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = (reconciling.reason or "Reconciling") .. ": " .. (reconciling.message or "")
elseif ready ~= nil then
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
end
return hs
