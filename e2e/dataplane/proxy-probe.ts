// Measurements of what a real proxy does with a route: served share against the set weight, and its reaction time.
import type { KubeConfig } from "@kubernetes/client-node";
import { getOrUndefined } from "../cluster/kube-request.ts";
import { answered, type Load, sharePercent } from "./load.ts";

interface RouteJson {
  spec?: { rules?: { name?: string; backendRefs?: { name?: string; weight?: number }[] }[] };
}

/**
 * The weight an HTTPRoute's rule (by index; negative counts from the end, -1 being the split rule of a route with
 * managed rules before it) gives Service `backend` (undefined when the route or the backend is absent).
 */
export async function routeWeight(
  kc: KubeConfig,
  namespace: string,
  route: string,
  backend: string,
  rule = 0,
): Promise<number | undefined> {
  const r = await getOrUndefined<RouteJson>(
    kc,
    `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes/${route}`,
  );
  return r?.spec?.rules?.at(rule)?.backendRefs?.find((b) => b.name === backend)?.weight;
}

/** Polls (every 20 ms) until the route gives `backend` `weight`; returns the time it was first seen. */
export async function waitForRouteWeight(
  kc: KubeConfig,
  at: { namespace: string; route: string; backend: string; rule?: number },
  weight: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await routeWeight(kc, at.namespace, at.route, at.backend, at.rule)) === weight) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`route ${at.namespace}/${at.route} never gave ${at.backend} ${weight}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Milliseconds from `since` until the proxy serves the new weight: the first probe of `probe` requests whose canary
 * share is nearer `next` than `previous`. Probes go back to back, so the resolution is one probe (~tens of ms).
 */
export async function proxyReaction(
  load: Load,
  canaryApp: string,
  previous: number,
  next: number,
  since: number,
  opts: { probe?: number; timeoutMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const c = await load.burst(opts.probe ?? 20);
    const share = sharePercent(c, canaryApp);
    if (Math.abs(share - next) < Math.abs(share - previous)) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`proxy never moved from ${previous} % to ${next} % canary`);
  }
}

/** |served canary share − weight| in percentage points over `n` requests, with the counts behind it. */
export async function shareError(
  load: Load,
  canaryApp: string,
  weight: number,
  n: number,
): Promise<{ error: number; canary: number; total: number }> {
  const c = await load.burst(n);
  return {
    error: Math.abs(sharePercent(c, canaryApp) - weight),
    canary: answered(c, canaryApp),
    total: c.total,
  };
}
