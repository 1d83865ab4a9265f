// Every example in examples/ is accepted by the API server and adopted by the controller on its mesh.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, getJson, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const EXAMPLES = resolve(import.meta.dirname, "../examples");
/** The routing object each provider's Rollout must produce. */
const ROUTING: Record<string, string> = {
  smi: "trafficsplits.split.smi-spec.io",
  istio: "virtualservices.networking.istio.io",
  linkerd: "httproutes.policy.linkerd.io",
  "gateway-api": "httproutes.gateway.networking.k8s.io",
};

let cluster: Cluster;
let controller: ControllerProcess;

describe("examples", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"));
  it("there is one example per provider", () => {
    const providers = files.flatMap((f) =>
      parseAllDocuments(readFileSync(join(EXAMPLES, f), "utf8"))
        .map((d) => d.toJSON())
        .filter((o) => o?.kind === "Rollout")
        .map((o) => o.spec.provider),
    );
    assert.deepEqual([...new Set(providers)].sort(), Object.keys(ROUTING).sort());
  });

  for (const file of files) {
    it(`${file} applies and its Rollout becomes Healthy with its routing object`, async () => {
      const text = readFileSync(join(EXAMPLES, file), "utf8");
      await apply(cluster, text);
      const rollout = parseAllDocuments(text)
        .map((d) => d.toJSON())
        .find((o) => o?.kind === "Rollout");
      const { namespace, name } = rollout.metadata;
      const healthy = await waitForRollout(
        cluster,
        namespace,
        name,
        "Healthy and Ready",
        // Ready is judged from the world: the access policy written with the step to Healthy is seen a poll later.
        (r) =>
          r.status?.phase === "Healthy" &&
          r.status.conditions?.find((c) => c.type === "Ready")?.status === "True",
      );
      assert.equal(healthy.status?.canaryWeight, 0);
      const routing = await getJson(cluster, [
        ROUTING[rollout.spec.provider]!,
        "-n",
        namespace,
        "-l",
        "app.kubernetes.io/managed-by=vireo",
      ]);
      assert.ok(
        ((routing as { items: unknown[] }).items ?? []).length >= 1,
        `no ${ROUTING[rollout.spec.provider]} created`,
      );
    });
  }
});
