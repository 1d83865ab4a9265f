// `helm install` and `helm upgrade` of charts/vireo into the local cluster. kwok runs no containers, so this file
// plays the kubelet: it reads the Deployment the chart created from the API server and runs the image's entrypoint
// from its rootfs with that pod spec's args, env, uid/gid, read-only root and ServiceAccount token; that controller
// then reconciles examples.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { CHART_DIR, helmBinary } from "../deploy/generate.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { freePort } from "./cluster/ports.ts";
import { apply, getJson, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";
import { buildImage, type MountedImage, mountImage, startFromImage } from "./support/image-process.ts";
import { serviceAccountCredentials } from "./support/service-account.ts";

const run = promisify(execFile);
const EXAMPLES = resolve(import.meta.dirname, "../examples");
// Not "vireo": startCluster already applied deploy/ (objects named vireo-*, not owned by a release) for the other
// e2e files, and helm refuses to adopt them. The chart prefixes every cluster-scoped name with the release name.
const RELEASE = "vireo-helm";
const NAMESPACE = "vireo-helm";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface DeploymentLike {
  metadata: { generation: number };
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName: string;
        securityContext: { runAsUser: number; runAsGroup: number };
        containers: {
          image: string;
          args: string[];
          env: EnvVar[];
          securityContext: { readOnlyRootFilesystem: boolean };
        }[];
      };
    };
  };
}

let cluster: Cluster;
let image: MountedImage;
let imageName: string;
let controller: ControllerProcess | undefined;
let metricsPort: number;
let pods = 0;

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(helmBinary(), [...args, "--kubeconfig", cluster.kubeconfigPath], {
    timeout: 120_000,
  });
  return stdout;
}

/** Values the tests pass: the locally built image, and a loopback metrics port (the "pod" shares the host network). */
function values(extra: string[]): string[] {
  const [repository, tag] = imageName.split(/:(?=[^:]+$)/);
  return [
    `image.repository=${repository}`,
    `image.tag=${tag}`,
    `metrics.port=${metricsPort}`,
    "metrics.host=127.0.0.1",
    "replicas=1",
    ...extra,
  ].flatMap((v) => ["--set", v]);
}

/** Starts one "pod" of the chart's Deployment as it is now in the API server (stopping the previous one). */
async function runDeploymentPod(): Promise<DeploymentLike> {
  await controller?.stop();
  const deployment = await getJson<DeploymentLike>(cluster, [
    "deployment",
    `${RELEASE}-controller`,
    "-n",
    NAMESPACE,
  ]);
  assert.ok(deployment, "the chart created no Deployment");
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0];
  assert.ok(c);
  assert.equal(c.image, imageName);
  const podName = `${RELEASE}-controller-${++pods}`;
  const field: Record<string, string> = { "metadata.name": podName, "metadata.namespace": NAMESPACE };
  const env = Object.fromEntries(
    c.env.map((e) => [e.name, e.value ?? field[e.valueFrom?.fieldRef?.fieldPath ?? ""] ?? ""]),
  );
  controller = await startFromImage(
    image,
    {
      args: c.args,
      env,
      uid: pod.securityContext.runAsUser,
      gid: pod.securityContext.runAsGroup,
      readOnlyRootFilesystem: c.securityContext.readOnlyRootFilesystem,
      serviceAccount: await serviceAccountCredentials(cluster, NAMESPACE, pod.serviceAccountName),
      apiServerUrl: cluster.apiServerUrl,
      metricsUrl: `http://127.0.0.1:${metricsPort}`,
    },
    { logDir: join(cluster.dir, "logs"), name: podName },
  );
  return deployment;
}

async function exampleBecomesHealthy(file: string): Promise<void> {
  const text = readFileSync(join(EXAMPLES, file), "utf8");
  await apply(cluster, text);
  const rollout = parseAllDocuments(text)
    .map((d) => d.toJSON())
    .find((o) => o?.kind === "Rollout");
  const healthy = await waitForRollout(
    cluster,
    rollout.metadata.namespace,
    rollout.metadata.name,
    "Healthy and Ready",
    (r) =>
      r.status?.phase === "Healthy" &&
      r.status.conditions?.find((x) => x.type === "Ready")?.status === "True",
  );
  assert.equal(healthy.status?.canaryWeight, 0);
}

describe("helm chart in a cluster", () => {
  before(async () => {
    const [name, c, port] = await Promise.all([
      buildImage(),
      startCluster({ prometheus: false }),
      freePort(),
    ]);
    imageName = name;
    cluster = c;
    metricsPort = port;
    image = await mountImage(name);
  });
  after(async () => {
    await controller?.stop();
    await image?.remove();
    await cluster?.stop();
  });

  it("helm install creates the release; its controller, run as the chart's pod, takes an example to Healthy", async () => {
    const out = await helm([
      "install",
      RELEASE,
      CHART_DIR,
      "--namespace",
      NAMESPACE,
      "--create-namespace",
      ...values([]),
    ]);
    assert.match(out, /STATUS: deployed/);
    const deployment = await runDeploymentPod();
    assert.equal(deployment.spec.replicas, 1);
    const args = deployment.spec.template.spec.containers[0]?.args ?? [];
    assert.ok(args.includes("--leader-elect=true"));
    // The chart's Lease Role is enough: this instance leads.
    await waitFor(
      "the chart's controller to lead",
      async () => (await controller?.metrics()) ?? "",
      (m) => /^vireo_leader(\{[^}]*\})? 1$/m.test(m),
      30_000,
    );
    await exampleBecomesHealthy("smi-podinfo.yaml");
  });

  it("helm upgrade rolls the new flags into the Deployment; the restarted controller keeps reconciling", async () => {
    const out = await helm([
      "upgrade",
      RELEASE,
      CHART_DIR,
      "--namespace",
      NAMESPACE,
      // The example's VirtualService has a public host: the operator allows it for its namespace.
      ...values([
        "workers=2",
        "logLevel=debug",
        "metricsMesh=istio",
        "routing.allowedHosts.shop={checkout.example.com}",
      ]),
    ]);
    assert.match(out, /REVISION: 2/);
    const deployment = await runDeploymentPod();
    const args = deployment.spec.template.spec.containers[0]?.args ?? [];
    assert.ok(args.includes("--workers=2"), args.join(" "));
    assert.ok(args.includes("--metrics-mesh=istio"), args.join(" "));
    assert.ok(args.includes("--allowed-hosts=shop=checkout.example.com"), args.join(" "));
    assert.ok(deployment.metadata.generation >= 2);
    await exampleBecomesHealthy("istio-podinfo.yaml");
    const history = JSON.parse(await helm(["history", RELEASE, "--namespace", NAMESPACE, "-o", "json"])) as {
      revision: number;
      status: string;
    }[];
    assert.deepEqual(
      history.map((h) => [h.revision, h.status]),
      [
        [1, "superseded"],
        [2, "deployed"],
      ],
    );
  });
});
