// Steady load as a timeline for the tests that switch all traffic at once (blue/green): what the root and the preview
// answered in each 100 ms slice, and how many of those requests failed.
import type { Rollout } from "../../src/api/rollout-schema.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { answered, type Counts, type Load, startLoad } from "../dataplane/load.ts";
import { setEnv } from "../dataplane/real-pod-app.ts";
import { deploymentReplicas, getRollout, waitFor, waitForRollout } from "./app.ts";

/** What each entry point answered in one 100 ms slice. */
export interface Slice {
  at: number;
  root: Counts;
  preview: Counts;
}

/** Requests that did not get a 2xx from a pod: 5xx/4xx, answers by the proxy itself, transport errors. */
export function failed(c: Counts): number {
  let n = c.transportErrors;
  for (const [app, classes] of c.byApp)
    for (const [cls, count] of classes) if (app === "" || cls !== "2xx") n += count;
  return n;
}

/** What the entry points answered while it ran: a live {@link timeline}, or RPC outcomes read back as slices. */
export interface Recording {
  /** Ends the recording; its slices. */
  stop(): Slice[] | Promise<Slice[]>;
}

/** Samples both loads every 100 ms until stopped. */
export function timeline(root: Load, preview: Load): { slices: Slice[]; stop: () => Slice[] } {
  const slices: Slice[] = [];
  root.mark();
  preview.mark();
  const timer = setInterval(
    () => slices.push({ at: Date.now(), root: root.mark(), preview: preview.mark() }),
    100,
  );
  return {
    slices,
    stop: () => {
      clearInterval(timer);
      slices.push({ at: Date.now(), root: root.mark(), preview: preview.mark() });
      return slices;
    },
  };
}

/** The sum of `f` over `slices`. */
export const sum = (slices: Slice[], f: (s: Slice) => number): number => slices.reduce((n, s) => n + f(s), 0);

/** First slice at or after `from` in which `f` holds. */
export const firstAt = (slices: Slice[], from: number, f: (s: Slice) => boolean): number | undefined =>
  slices.find((s) => s.at >= from && f(s))?.at;

/** Milliseconds as seconds for a report, or "never". */
export const fmt = (ms: number | undefined): string =>
  ms === undefined ? "never" : `${(ms / 1000).toFixed(2)} s`;

/** What a switch of all traffic looked like at the proxy, from `t0` (the new template) on. */
export interface SwitchSummary {
  /** First slice in which the preview answered from the new version. */
  previewNew?: number;
  /** First slice in which the root answered from the new version (the cut-over at the proxy). */
  cutOver?: number;
  /** First slice after the cut-over answered only by the new version. */
  allNew?: number;
  /** First slice after that in which the old side (the promoted primary) answered again: the switch back. */
  back?: number;
  /** First slice after the switch back answered only by the primary. */
  allBack?: number;
  total: number;
  failures: number;
  previewTotal: number;
  previewFailures: number;
  /** Slices in which both versions answered the root. */
  mixed: number;
  /** Root requests `app` answered in [from, to). */
  served: (from: number | undefined, to: number | undefined, app: string) => number;
}

/** Summarises `slices` of a blue/green promotion whose new version answers as `next` and old one as `prev`. */
export function switchSummary(slices: Slice[], t0: number, next: string, prev: string): SwitchSummary {
  const only = (x: Slice, app: string) => x.root.total > 0 && answered(x.root, app) === x.root.total;
  const previewNew = firstAt(slices, t0, (x) => answered(x.preview, next) > 0);
  const cutOver = firstAt(slices, t0, (x) => answered(x.root, next) > 0);
  const allNew = firstAt(slices, cutOver ?? t0, (x) => only(x, next));
  const back = firstAt(slices, allNew ?? t0, (x) => answered(x.root, prev) > 0);
  const allBack = firstAt(slices, back ?? t0, (x) => only(x, prev));
  return {
    ...(previewNew === undefined ? {} : { previewNew }),
    ...(cutOver === undefined ? {} : { cutOver }),
    ...(allNew === undefined ? {} : { allNew }),
    ...(back === undefined ? {} : { back }),
    ...(allBack === undefined ? {} : { allBack }),
    total: sum(slices, (x) => x.root.total + x.root.transportErrors),
    failures: sum(slices, (x) => failed(x.root)),
    previewTotal: sum(slices, (x) => x.preview.total + x.preview.transportErrors),
    previewFailures: sum(slices, (x) => failed(x.preview)),
    mixed: slices.filter((x) => answered(x.root, next) > 0 && answered(x.root, prev) > 0).length,
    served: (from, to, app) =>
      sum(
        slices.filter((x) => x.at >= (from ?? 0) && x.at < (to ?? Number.POSITIVE_INFINITY)),
        (x) => answered(x.root, app),
      ),
  };
}

/**
 * Steady load on the root host (40 req/s, 8 in flight) and the preview host (20 req/s, 4 in flight) through the
 * proxy at `url`; resolves once both answer only from `app` (the primary: the preview starts on the active pods).
 */
export async function startRootAndPreviewLoads(
  url: string,
  hosts: { root: string; preview: string },
  app: string,
): Promise<{ root: Load; preview: Load }> {
  const root = startLoad({ url, host: hosts.root, rps: 40, concurrency: 8 });
  const preview = startLoad({ url, host: hosts.preview, rps: 20, concurrency: 4 });
  for (const [load, what] of [
    [root, "root"],
    [preview, "preview"],
  ] as const)
    await waitFor(
      `${what} answering from the primary through the proxy`,
      () => load.burst(20),
      (c) => answered(c, app) === 20,
      60_000,
    );
  return { root, preview };
}

/**
 * One blue/green release as the e2e tests drive it, recorded from just before the new template: sets VERSION=`version`
 * on Deployment `app`, waits for the promotion and for the user's Deployment (the new version's pods, answering as
 * `app`) to be scaled down, lets the entry points answer 2 s more, and summarises the switches (the old version
 * answers as `<app>-primary`).
 */
export async function releaseBlueGreen(
  cluster: Cluster,
  namespace: string,
  app: string,
  version: string,
  record: () => Recording,
): Promise<{ t0: number; done: Rollout; slices: Slice[]; summary: SwitchSummary }> {
  const stable = (await getRollout(cluster, namespace, app))?.status?.stableRevision;
  const recording = record();
  const t0 = Date.now();
  await setEnv(cluster, namespace, app, `VERSION=${version}`);
  const done = await waitForRollout(
    cluster,
    namespace,
    app,
    "promoted",
    (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== stable,
    180_000,
  );
  // After the promotion the root goes back to the promoted primary; then the new version's pods are scaled down.
  await waitFor(
    "the user's Deployment scaled down",
    () => deploymentReplicas(cluster, namespace, app),
    (n) => n === 0,
    60_000,
  );
  await new Promise((r) => setTimeout(r, 2000));
  const slices = await recording.stop();
  return { t0, done, slices, summary: switchSummary(slices, t0, app, `${app}-primary`) };
}

/** Sets `strategy.blueGreen.rollbackWindow` of Rollout `app` (a long one, so an abort lands in it). */
export async function setRollbackWindow(
  cluster: Cluster,
  namespace: string,
  app: string,
  window: string,
): Promise<void> {
  const patch = { spec: { strategy: { blueGreen: { rollbackWindow: window } } } };
  const r = await cluster.kubectl([
    "patch",
    "rollout.vireo.dev",
    app,
    "-n",
    namespace,
    "--type=merge",
    "-p",
    JSON.stringify(patch),
  ]);
  if (r.code !== 0) throw new Error(`kubectl patch (rollbackWindow) failed: ${r.stderr}`);
}
