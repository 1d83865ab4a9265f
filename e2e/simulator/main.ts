// CLI for the traffic simulator (used by `npm run cluster:up`); runs until SIGINT/SIGTERM.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.ts";

const USAGE = `usage: node e2e/simulator/main.ts --namespace NS --service SVC [options]
  --kubeconfig PATH        read routing objects with this kubeconfig (default: none = 100% primary)
  --target NAME            canary Deployment name (default: the service)
  --rps N                  requests per second (default 20)
  --primary-error-rate F   share of failing primary requests, 0-1 (default 0)
  --canary-error-rate F    share of failing canary requests, 0-1 (default 0)
  --primary-latency-ms N   base primary latency (default 10)
  --canary-latency-ms N    base canary latency (default 10)
  --port N                 port for /metrics and the control API (default: free)
  --ready-file PATH        write {"metricsUrl", "controlUrl", "pid"} here once serving`;

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    service: { type: "string" },
    target: { type: "string" },
    rps: { type: "string" },
    "primary-error-rate": { type: "string" },
    "canary-error-rate": { type: "string" },
    "primary-latency-ms": { type: "string" },
    "canary-latency-ms": { type: "string" },
    port: { type: "string" },
    "ready-file": { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help || !values.namespace || !values.service) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const behaviour = (errorRate?: string, latencyMs?: string) => ({
  ...(errorRate !== undefined ? { errorRate: Number(errorRate) } : {}),
  ...(latencyMs !== undefined ? { latencyMs: Number(latencyMs) } : {}),
});

const sim = await startSimulator({
  ...(values.kubeconfig ? { kubeconfigPath: values.kubeconfig } : {}),
  namespace: values.namespace,
  service: values.service,
  ...(values.target ? { target: values.target } : {}),
  ...(values.rps ? { rps: num(values.rps)! } : {}),
  ...(values.port ? { port: num(values.port)! } : {}),
  primary: behaviour(values["primary-error-rate"], values["primary-latency-ms"]),
  canary: behaviour(values["canary-error-rate"], values["canary-latency-ms"]),
});
const info = { metricsUrl: sim.metricsUrl, controlUrl: sim.controlUrl, pid: process.pid };
if (values["ready-file"]) writeFileSync(values["ready-file"], JSON.stringify(info));
console.log(JSON.stringify({ msg: "simulator ready", ...info }));

// Periodic one-line summary, so a log file shows what traffic did over time.
const summary = setInterval(() => {
  const s = sim.stats();
  const w = sim.weights();
  console.log(
    JSON.stringify({
      weights: w,
      sent: s.sent,
      primary: s.byVersion.primary,
      canary: s.byVersion.canary,
      dropped: s.dropped,
      routeErrors: s.routeErrors,
    }),
  );
}, 30_000);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    clearInterval(summary);
    void sim.stop().then(() => process.exit(0));
  });
}
