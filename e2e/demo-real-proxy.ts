// `npm run demo -- --real-proxy`: the same two rollouts through a real proxy. Traefik routes real HTTP to pod
// processes on the pods' own IPs; analysis reads Traefik's metrics; a bad version is a bad pod template.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { answered, type Counts, type Load, startLoad } from "./dataplane/load.ts";
import { routeWeight } from "./dataplane/proxy-probe.ts";
import { realPodApp, setEnv } from "./dataplane/real-pod-app.ts";
import { GATEWAY, type RealProxyEnv, startRealProxyEnv } from "./dataplane/real-proxy-env.ts";
import { apply, getRollout, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NS = "demo";
const APP = "podinfo";
const HOST = "podinfo.example.test";

const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (text: string) => console.log(`${clock()}  ${text}`);

const share = (c: Counts, app: string) =>
  c.total === 0 ? "  - " : `${((100 * answered(c, app)) / c.total).toFixed(0).padStart(3)}%`;

/** Prints, every second: phase, step, the weight Vireo set, the share of real requests the canary served. */
async function watch(
  env: RealProxyEnv,
  load: Load,
  done: (r: Rollout) => boolean,
  timeoutMs: number,
): Promise<Rollout> {
  const kc = env.cluster.kubeConfig();
  const deadline = Date.now() + timeoutMs;
  load.mark();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const [rollout, weight] = await Promise.all([
      getRollout(env.cluster, NS, APP),
      routeWeight(kc, NS, APP, `${APP}-canary`),
    ]);
    const served = load.mark();
    const s = rollout?.status;
    const failed = served.byApp.get(APP)?.get("5xx") ?? 0;
    const values = (s?.analysis?.history ?? [])
      .filter((m) => m.at === s?.analysis?.lastRunAt)
      .map((m) => `${m.metric}=${m.value === undefined ? "no data" : m.value.toFixed(1)}(${m.verdict})`)
      .join(" ");
    const step = s?.currentStepIndex === undefined ? "-" : String(s.currentStepIndex + 1);
    say(
      `${`${s?.phase ?? "?"}`.padEnd(11)} step ${step.padEnd(2)} weight ${String(weight ?? 0).padStart(3)}%  ` +
        `served by canary ${share(served, APP)} of ${String(served.total).padStart(3)} requests (${failed} 5xx)  ${values}`,
    );
    if (rollout && done(rollout)) return rollout;
    if (Date.now() > deadline) throw new Error(`demo timed out: ${s?.message}`);
  }
}

/** Runs the real-proxy demo; resolves when everything it started is stopped. */
export async function realProxyDemo(): Promise<void> {
  // `npm run demo` built the control plane; Traefik only this demo needs (cached after the first build).
  const build = spawnSync("bash", [join(import.meta.dirname, "cluster", "build-traefik.sh")], {
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error(`build-traefik.sh exited with ${build.status ?? build.signal}`);
  let env: RealProxyEnv | undefined;
  let controller: ControllerProcess | undefined;
  let load: Load | undefined;
  try {
    say(
      "starting the local control plane with upstream Gateway API v1.4.0 CRDs, the pod runner and Traefik v3.6.12",
    );
    env = await startRealProxyEnv();
    say(
      `Traefik serves Gateway ${GATEWAY.namespace}/${GATEWAY.name} on ${env.traefik.webUrl}; Prometheus scrapes its metrics`,
    );
    controller = await startController({
      kubeconfigPath: env.cluster.controllerKubeconfigPath,
      logDir: join(env.cluster.dir, "logs"),
      args: [
        ...prometheusArgs(env.cluster.prometheusUrl, "traefik"),
        "--log-level=info",
        // The shared Gateway is in another namespace: allowed by the operator (docs/ownership.md).
        `--allowed-gateways=${GATEWAY.namespace}/${GATEWAY.name}`,
        `--allowed-hosts=${HOST}`,
      ],
    });
    say(
      "controller running as its ServiceAccount, judging canaries on Traefik's traefik_service_requests_total",
    );
    await apply(
      env.cluster,
      realPodApp({
        namespace: NS,
        name: APP,
        steps: [
          { setWeight: 10 },
          { pause: { duration: "4s" } },
          { setWeight: 30 },
          { pause: { duration: "4s" } },
          { setWeight: 50 },
          { pause: { duration: "4s" } },
        ],
        gatewayApi: {
          parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace, sectionName: GATEWAY.listener }],
          hostnames: [HOST],
        },
      }),
    );
    await waitForRollout(env.cluster, NS, APP, "Healthy", (r) => r.status?.phase === "Healthy", 120_000);
    const stable = (await getRollout(env.cluster, NS, APP))?.status?.stableRevision;
    say(
      `adopted: HTTPRoute ${NS}/${APP} on the Gateway routes 100 % to podinfo-primary; sending 50 requests/s to Traefik`,
    );
    load = startLoad({ url: env.traefik.webUrl, host: HOST, rps: 50, concurrency: 8 });

    console.log("");
    say("== a GOOD version: kubectl set env deployment/podinfo VERSION=v2");
    await setEnv(env.cluster, NS, APP, "VERSION=v2");
    const promoted = await watch(
      env,
      load,
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== stable,
      180_000,
    );
    say(`PROMOTED revision ${promoted.status?.stableRevision}`);

    console.log("");
    say("== a BAD template: kubectl set env deployment/podinfo ERROR_RATE=0.3 (its pods answer 30 % 500)");
    await setEnv(env.cluster, NS, APP, "ERROR_RATE=0.3");
    const rolledBack = await watch(env, load, (r) => r.status?.phase === "RolledBack", 180_000);
    const degraded = rolledBack.status?.conditions?.find((c) => c.type === "Degraded");
    say(`ROLLED BACK: ${degraded?.reason}: ${degraded?.message}`);
    await watch(env, load, () => true, 5000);
    say("every request is served by the primary again");
  } finally {
    say("stopping the load, the controller, Traefik, the pod runner and the cluster");
    await load?.stop().catch(() => {});
    await controller?.stop().catch(() => {});
    await env?.stop();
  }
  console.log(
    `\nDone in ${clock().trim()}; nothing is left running. The same path is tested in e2e/traefik-gateway.test.ts.`,
  );
}
