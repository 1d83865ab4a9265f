// Measures what the local kube-apiserver (1.36) sends on a watch that asked for bookmarks: how often a BOOKMARK
// arrives on a quiet resource (PodTemplates: nothing writes any) and on a busy one (ConfigMaps, a write every second
// to one the watch's label selector does not match, so only bookmarks can arrive).
// The informer's silence bound (src/kube/informer.ts) is designed from these numbers.
//
//   node bench/watch-bookmarks.ts                        4 minutes
//   VIREO_BOOKMARK_MINUTES=8 node bench/watch-bookmarks.ts
import { startCluster } from "../e2e/cluster/cluster.ts";
import { createKubeClients } from "../src/kube/clients.ts";

const MINUTES = Number(process.env.VIREO_BOOKMARK_MINUTES ?? "4");
const CM = "/api/v1/namespaces";

const cluster = await startCluster({ prometheus: false, nodes: 1 });
try {
  const clients = createKubeClients(cluster.kubeConfig(), { qps: 100, burst: 100 });
  for (const ns of ["quiet", "busy"])
    await clients.request({ method: "POST", path: CM, body: { metadata: { name: ns } } });
  await clients.request({
    method: "POST",
    path: `${CM}/busy/configmaps`,
    body: { metadata: { name: "ticker" }, data: { n: "0" } },
  });
  const started = Date.now();
  const stop = new AbortController();
  /** Watches `resource` in `ns` (label-selected to none, so only bookmarks can arrive) and records bookmarks. */
  const watch = async (ns: string, resource: string, selector: string): Promise<number[]> => {
    const list = await clients.request<{ metadata: { resourceVersion: string } }>({
      path: `${CM}/${ns}/${resource}`,
      query: { labelSelector: selector },
    });
    const body = await clients.stream({
      path: `${CM}/${ns}/${resource}`,
      query: {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: list.metadata.resourceVersion,
        timeoutSeconds: MINUTES * 60 + 30,
        labelSelector: selector,
      },
      signal: stop.signal,
    });
    const at: number[] = [];
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of body) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.includes('"BOOKMARK"')) at.push(Date.now() - started);
        }
      }
    } catch {
      // aborted at the end of the run
    }
    return at;
  };
  const quiet = watch("quiet", "podtemplates", "bench=none");
  const busy = watch("busy", "configmaps", "bench=none");
  let n = 0;
  const ticker = setInterval(() => {
    void clients.request({
      method: "PUT",
      path: `${CM}/busy/configmaps/ticker`,
      body: { metadata: { name: "ticker" }, data: { n: String(++n) } },
    });
  }, 1000);
  await new Promise((r) => setTimeout(r, MINUTES * 60_000));
  clearInterval(ticker);
  stop.abort();
  const show = (name: string, at: number[]) => {
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `${name}: ${at.length} bookmarks in ${MINUTES} min; first after ${at[0] === undefined ? "—" : s(at[0])}; gaps ${gaps.map(s).join(", ") || "—"}`,
    );
  };
  show("quiet resource (no writes)", await quiet);
  show("busy resource (a write every 1 s, none matching the watch)", await busy);
} finally {
  await cluster.stop();
}
