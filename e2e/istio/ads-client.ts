// An ADS client connected to istiod as one sidecar or gateway (xdsprobe ads): what istiod pushes, as a test sees it.
import type { Istiod } from "../cluster/istiod.ts";
import { waitFor } from "../cluster/wait.ts";
import type { AdsState } from "./envoy-config.ts";
import { nodeArgs, type ProbeNode, startProbe } from "./xdsprobe.ts";

/** A connected ADS client. */
export interface AdsClient {
  nodeId(): Promise<string>;
  /** Every resource istiod last pushed, and the push log. */
  state(): Promise<AdsState>;
  /** Polls the pushed state (every 20 ms) until `pick` returns a value; throws with the last state on timeout. */
  until<T>(what: string, pick: (s: AdsState) => T | undefined | false, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/** Connects an ADS client as `node` and waits for istiod's first listeners and clusters. */
export async function startAdsClient(o: {
  istiod: Istiod;
  dir: string;
  node: ProbeNode;
}): Promise<AdsClient> {
  const probe = await startProbe({
    command: "ads",
    args: nodeArgs(o.istiod, o.node),
    dir: o.dir,
    readyPath: "/state",
  });
  const state = async (): Promise<AdsState> => {
    const res = await fetch(`${probe.url}/state`);
    if (!res.ok) throw new Error(`ads /state: HTTP ${res.status}`);
    return (await res.json()) as AdsState;
  };
  const client: AdsClient = {
    nodeId: async () => (await state()).nodeId,
    state,
    async until(what, pick, timeoutMs = 15_000) {
      let last: AdsState | undefined;
      try {
        return await waitFor(
          async () => {
            last = await state();
            return pick(last);
          },
          { what, timeoutMs, intervalMs: 20 },
        );
      } catch (err) {
        const routes = JSON.stringify(last?.routes ?? {}).slice(0, 4000);
        throw new Error(`${(err as Error).message}\nlast pushed routes: ${routes}\nerrors: ${last?.errors}`);
      }
    },
    stop: probe.stop,
  };
  await client.until(
    "istiod's first listeners and clusters",
    (s) => s.listeners !== null && s.clusters !== null,
  );
  return client;
}
