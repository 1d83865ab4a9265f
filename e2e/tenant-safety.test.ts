// Tenant safety end to end: the controller (restricted ServiceAccount) never queries a Prometheus address outside
// --allowed-prometheus-urls, never uses a Secret without vireo.dev/allow-reference=true, and never copies the
// server's response text into status. Both "Prometheus" servers are loopback fakes that record every request.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  type FakePrometheus,
  promError,
  startFakePrometheus,
  vector,
} from "../src/analysis/testing/prom-server.ts";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import type { Measurement, Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { kubeRequest } from "./cluster/kube-request.ts";
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const TOKEN = "tenant-token-5b1e9f-secret";
/** Text the allowed server puts in its error answers; it must never reach status or Events. */
const MARKER = "MARKER-from-the-response-body";
const METRIC = { name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } };

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;
/** The controller's --prometheus-url: the only address allowed by default. */
let allowed: FakePrometheus;
/** An address a tenant names in its Rollout, e.g. a server that collects credentials. */
let foreign: FakePrometheus;

const rollout = (ns: string) =>
  kubeRequest<Rollout>(kc, "GET", `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${NAME}`);
const history = (r: Rollout | undefined): Measurement[] => r?.status?.analysis?.history ?? [];
const withToken = (s: FakePrometheus) =>
  s.requests.filter((q) => q.headers.authorization === `Bearer ${TOKEN}`).length;

/** Deploys the app with `analysis` (plus extra manifests), waits for Healthy, and starts a canary. */
async function startCanary(
  ns: string,
  analysis: Record<string, unknown>,
  extra: object[] = [],
): Promise<void> {
  await apply(
    cluster,
    [
      appManifests({
        namespace: ns,
        analysis: { interval: "5s", consecutiveErrorLimit: 100, metrics: [METRIC], ...analysis },
      }),
      ...extra.map((x) => JSON.stringify(x)),
    ].join("\n---\n"),
  );
  await waitFor(
    `${ns}: Healthy`,
    () => rollout(ns),
    (r) => r?.status?.phase === "Healthy",
    90_000,
  );
  await setImage(cluster, ns, NAME, NEW_IMAGE);
}

/** Waits for an erroring analysis tick whose message matches `re`. */
function errorTick(ns: string, re: RegExp): Promise<Rollout> {
  return waitFor(
    `${ns}: an Error measurement matching ${re}`,
    () => rollout(ns),
    (r) => history(r).some((m) => m.verdict === "Error" && re.test(m.message ?? "")),
    90_000,
    500,
  );
}

async function events(ns: string): Promise<string> {
  const list = await kubeRequest<{ items: { note?: string }[] }>(
    kc,
    "GET",
    `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
  );
  return JSON.stringify(list.items.map((e) => e.note));
}

describe("tenant safety: Prometheus allow-list and Secret opt-in", () => {
  before(async () => {
    allowed = await startFakePrometheus((q) =>
      q.headers.authorization === `Bearer ${TOKEN}`
        ? { status: 400, body: promError("bad_data", `${MARKER} (query was ${q.params.query})`) }
        : { body: vector("100") },
    );
    foreign = await startFakePrometheus(() => ({ status: 500, text: MARKER }));
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [`--prometheus-url=${allowed.url}`, "--metrics-mesh=linkerd"],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    await allowed?.close();
    await foreign?.close();
  });

  it("sends no request to a Rollout's address outside the allow-list, and says which flag to set", async () => {
    const ns = "foreign";
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "prom-token", namespace: ns, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
      stringData: { token: TOKEN },
    };
    await startCanary(
      ns,
      { prometheus: { address: `${foreign.url}/collect`, secretRef: { name: "prom-token" } } },
      [secret],
    );
    const r = await errorTick(ns, /--allowed-prometheus-urls/);
    const err = history(r).find((m) => m.verdict === "Error");
    assert.match(
      err?.message ?? "",
      /^Prometheus address not allowed by the controller's --allowed-prometheus-urls \(default: only its --prometheus-url\); no query sent to http:\/\/127\.0\.0\.1:\d+\/collect$/,
    );
    assert.equal(r.status?.canaryWeight, 20, "the step holds while analysis errors");
    // Another tick later, still nothing left the controller for that address.
    const lastRun = r.status?.analysis?.lastRunAt ?? "";
    await waitFor(
      `${ns}: one more tick`,
      () => rollout(ns),
      (x) => (x.status?.analysis?.lastRunAt ?? "") > lastRun,
      30_000,
      500,
    );
    assert.equal(foreign.requests.length, 0, "the disallowed server received no request");
    assert.match(await events(ns), /could not be evaluated.*--allowed-prometheus-urls/);
    assert.equal(withToken(allowed), 0, "the token went nowhere");
  });

  it("refuses a Secret without the opt-in label, and uses it once labelled, keeping body text out of status", async () => {
    const ns = "unlabelled";
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "prom-token", namespace: ns },
      stringData: { token: TOKEN },
    };
    const before = allowed.requests.length;
    await startCanary(ns, { prometheus: { secretRef: { name: "prom-token" } } }, [secret]);
    const refused = await errorTick(ns, /lacks label/);
    assert.ok(
      history(refused).some(
        (m) =>
          m.message ===
          `Secret ${ns}/prom-token lacks label ${ALLOW_REFERENCE_LABEL}=true (a Secret must opt in before a Rollout may use it)`,
      ),
      JSON.stringify(history(refused)),
    );
    assert.equal(withToken(allowed), 0, "no request carried the unlabelled Secret's token");
    assert.equal(allowed.requests.length, before, "no query was sent at all without usable credentials");

    const r = await cluster.kubectl([
      "label",
      "secret",
      "prom-token",
      `${ALLOW_REFERENCE_LABEL}=true`,
      "-n",
      ns,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // The allowed server rejects queries with that token with an error envelope carrying MARKER.
    const used = await errorTick(ns, /^Prometheus bad_data error \(4xx\)/);
    assert.ok(withToken(allowed) > 0, "the labelled Secret's token is sent to the allowed Prometheus");
    const status = JSON.stringify(used.status);
    assert.ok(!status.includes(MARKER), `status echoes the response body: ${status}`);
    assert.ok(!status.includes(TOKEN), "status never carries the token");
    const notes = await events(ns);
    assert.ok(!notes.includes(MARKER) && !notes.includes(TOKEN), notes);
  });
});
