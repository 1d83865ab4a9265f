// e2e: all traffic switched at once while kube-controller-manager lists pods in EndpointSlices 10 s late (its
// batch period): the Deployment reports the canary ready long before any slice lists it, so a route written on
// the Deployment's word sends every RPC of a proxyless gRPC client to a cluster istiod has no endpoints for.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Cluster } from "./cluster/cluster.ts";
import { ALLOW_MISSING_ENV, istioMissing } from "./cluster/istiod.ts";
import { setEnv } from "./dataplane/real-pod-app.ts";
import { tally } from "./istio/grpc-load.ts";
import { type GrpcMeshEnv, startGrpcMeshEnv } from "./istio/grpc-mesh-env.ts";
import { grpcIstioApp, manifests, watchVsWeights } from "./istio/istio-app.ts";
import { watchSlices } from "./istio/slice-watch.ts";
import { failureSummary, waitForAnswers } from "./istio/traffic.ts";
import { apply, getRollout, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const missing = istioMissing();
const skip = missing !== undefined && process.env[ALLOW_MISSING_ENV] === "1" ? missing : false;
const NS = "shop";

describe("all-at-once through istiod with EndpointSlices 10 s behind the pods", { skip }, () => {
  let env: GrpcMeshEnv;
  let cluster: Cluster;
  let controller: ControllerProcess;

  before(async () => {
    if (missing) throw new Error(missing);
    env = await startGrpcMeshEnv({ endpointSliceBatchMs: 10_000 });
    cluster = env.cluster;
    await apply(cluster, manifests([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]));
    await env.requireMtls(NS);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
  });

  after(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it("setWeight 100 waits for the canary's slices, the promotion for the primary's: no RPC fails", async () => {
    const kc = cluster.kubeConfig();
    await apply(
      cluster,
      manifests(
        grpcIstioApp({
          namespace: NS,
          name: "slow",
          steps: [{ setWeight: 100 }, { pause: { duration: "2s" } }],
          extraSpec: { accessPolicy: { sources: [{ serviceAccount: "frontend", namespace: "web" }] } },
        }),
      ),
    );
    const phase = (r: Awaited<ReturnType<typeof getRollout>>) => r?.status?.phase;
    await waitForRollout(cluster, NS, "slow", "Healthy", (r) => phase(r) === "Healthy", 120_000);
    const load = await env.client({
      namespace: "web",
      serviceAccount: "frontend",
      target: `xds:///slow.${NS}.svc.cluster.local:80`,
      rps: 200,
    });
    await waitForAnswers(load, "slow-primary", 100);
    const writes = await watchVsWeights(kc, NS, "slow");
    const slices = await watchSlices(kc, NS, ["slow-primary", "slow-canary"]);
    const start = Date.now();
    for (const version of ["v2", "v3"]) {
      const stable = (await getRollout(cluster, NS, "slow"))?.status?.stableRevision;
      await setEnv(cluster, NS, "slow", `VERSION=${version}`);
      await waitForRollout(
        cluster,
        NS,
        "slow",
        `${version} promoted`,
        (r) => phase(r) === "Healthy" && r.status?.stableRevision !== stable,
        240_000,
      );
    }
    await new Promise((res) => setTimeout(res, 3000));
    writes.stop();
    slices.stop();
    await load.refresh();
    const toCanary = writes
      .log()
      .filter((w, i, all) => i > 0 && w.weight === 100 && all[i - 1]?.weight === 0);
    const ready = toCanary.map((w) => slices.readyBefore("slow-canary", w.rv));
    const all = tally(load.between(start));
    console.log(
      `[slow-slices] ${toCanary.length} switches to the canary, its slices listing ${ready.join(", ")} ready pods; ${all.total} RPCs, ${all.failed.length} failed`,
    );
    assert.equal(toCanary.length, 2, "one switch to the canary per release");
    assert.ok(
      ready.every((n) => n > 0),
      `the route moved before the canary's slices listed a pod: ${ready.join(", ")}; ${failureSummary(all.failed)}`,
    );
    assert.equal(all.failed.length, 0, failureSummary(all.failed));
  });
});
