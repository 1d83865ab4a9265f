// How long the engine waits before looking again at things no watch reports promptly.

/** How often to look again while waiting for something no watch tells us about (mesh routes). */
export const ROUTE_POLL_MS = 1_000;
/** How often to look again while waiting for Deployments (their watch usually wakes us first). */
export const WORKLOAD_POLL_MS = 5_000;
/**
 * How often to look again when the target Deployment is missing, or an object the Rollout names is refused (another
 * Rollout's, or outside the operator's policy). Neither is watched — only objects labelled for a Rollout are — so
 * this poll is what notices a target created after its Rollout, or a conflict resolved.
 */
export const MISSING_TARGET_POLL_MS = 5_000;
/**
 * How often to look at a StatefulSet or DaemonSet target whatever its phase: neither they nor their pods are watched,
 * so this poll is what notices a new template, a pod that became ready, or a hold someone changed.
 */
export const IN_PLACE_POLL_MS = 5_000;
