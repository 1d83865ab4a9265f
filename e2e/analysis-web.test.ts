// Web metrics end to end: a real control plane (no Prometheus at all) and a real HTTP server on loopback answering
// JSON. A canary is promoted while its web metric stays in range; one whose ClusterAnalysisTemplate web metric (an
// argument in the URL's path) goes out of range is rolled back; a web metric URL outside --allowed-check-urls makes
// the Rollout Invalid at once and its server receives 0 requests.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { brief, history } from "./support/analysis-app.ts";
import { apply, appManifests, canaryWeight, setImage, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const SECRET = "internal-detail-never-in-status";

/** A loopback JSON server: `/score/<namespace>/<workload>` answers that workload's score; every request recorded. */
class ScoreServer {
  readonly hits: string[] = [];
  readonly scores = new Map<string, number>();
  #server: Server | undefined;
  url(path = "/"): string {
    if (!this.#server) throw new Error("score server not up");
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }
  async up(): Promise<void> {
    this.#server = createServer((req, res) => {
      this.hits.push(req.url ?? "");
      const [, , ns, workload] = (req.url ?? "").split("?")[0]?.split("/") ?? [];
      const score = this.scores.get(`${ns}/${workload}`);
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ note: SECRET, data: { score: score ?? null } }));
    });
    await new Promise<void>((r) => this.#server?.listen(0, "127.0.0.1", () => r()));
  }
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return; // never started: a close callback that never comes would hang the after hook
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }
}

let cluster: Cluster;
let controller: ControllerProcess;
const scores = new ScoreServer();
const outside = new ScoreServer();

/** Deploys the app with `analysis`, waits for Healthy, and starts a new revision. */
async function rollOut(ns: string, analysis: Record<string, unknown>): Promise<string> {
  await apply(
    cluster,
    appManifests({ namespace: ns, steps: [{ setWeight: 20 }, { setWeight: 50 }], analysis }),
  );
  const healthy = await waitForRollout(cluster, ns, NAME, "Healthy", (r) => r.status?.phase === "Healthy");
  await setImage(cluster, ns, NAME, NEW_IMAGE);
  return healthy.status?.stableRevision ?? "";
}

describe("web metrics on the real control plane", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    await Promise.all([scores.up(), outside.up()]);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      // Only the score server is allowed; `outside` listens on another port of the same loopback address.
      args: [`--allowed-check-urls=${scores.url("/score/")}`],
    });
  });
  after(async () => {
    await controller?.stop();
    await Promise.all([scores.down(), outside.down()]);
    await cluster?.stop();
  });

  it("promotes a canary while its web metric is in range", async () => {
    const ns = "web-good";
    scores.scores.set(`${ns}/${NAME}`, 99);
    const stable = await rollOut(ns, {
      interval: "2s",
      failureLimit: 1,
      metrics: [
        {
          name: "score",
          web: { url: scores.url("/score/{{ namespace }}/{{ target }}"), jsonPath: "$.data.score" },
          thresholdRange: { min: 95 },
        },
      ],
    });
    const r = await waitForRollout(
      cluster,
      ns,
      NAME,
      "promoted",
      (x) => x.status?.phase === "Healthy" && x.status.stableRevision !== stable,
      180_000,
    );
    assert.equal(r.status?.promotedBy, "Analysis", brief(r));
    const passes = history(r, "score").filter((m) => m.verdict === "Pass");
    assert.ok(passes.length >= 2 && passes.every((m) => m.value === 99), brief(r));
    assert.ok(scores.hits.includes(`/score/${ns}/${NAME}`), scores.hits.slice(-5).join());
  });

  it("rolls back a canary whose ClusterAnalysisTemplate web metric goes out of range", async () => {
    const ns = "web-bad";
    await apply(
      cluster,
      JSON.stringify({
        apiVersion: "vireo.dev/v1alpha1",
        kind: "ClusterAnalysisTemplate",
        metadata: { name: "web-score" },
        spec: {
          args: [{ name: "app" }],
          metrics: [
            {
              name: "score",
              web: { url: scores.url("/score/{{ namespace }}/{{ args.app }}"), jsonPath: "$.data.score" },
              thresholdRange: { min: 95 },
            },
          ],
        },
      }),
    );
    scores.scores.set(`${ns}/scored`, 40);
    const stable = await rollOut(ns, {
      interval: "2s",
      failureLimit: 1,
      templates: [
        { name: "web-score", kind: "ClusterAnalysisTemplate", args: [{ name: "app", value: "scored" }] },
      ],
    });
    const r = await waitForRollout(
      cluster,
      ns,
      NAME,
      "RolledBack",
      (x) => x.status?.phase === "RolledBack",
      120_000,
    );
    const fail = history(r, "score").find((m) => m.verdict === "Fail");
    assert.ok(fail, brief(r));
    assert.equal(fail.value, 40);
    assert.equal(fail.threshold, ">= 95");
    assert.equal(r.status?.stableRevision, stable);
    assert.equal(await canaryWeight(cluster, ns), 0);
    assert.ok(scores.hits.includes(`/score/${ns}/scored`), "the template's argument went into the path");
    assert.ok(!JSON.stringify(r.status).includes(SECRET), "the answer's text stays out of status");
  });

  it("a web metric URL outside --allowed-check-urls: Invalid at once, 0 requests", async () => {
    const ns = "web-outside";
    outside.scores.set(`${ns}/${NAME}`, 99);
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        analysis: {
          interval: "2s",
          metrics: [
            {
              name: "score",
              web: { url: outside.url("/score/{{ namespace }}/{{ target }}"), jsonPath: "$.data.score" },
              thresholdRange: { min: 95 },
            },
          ],
        },
      }),
    );
    const r = await waitForRollout(cluster, ns, NAME, "Invalid naming the flag", (x) =>
      (x.status?.conditions ?? []).some((c) =>
        /metric score: URL not allowed by the controller's --allowed-check-urls/.test(c.message),
      ),
    );
    console.log(`outside the allow-list: phase ${r.status?.phase}: ${r.status?.message}`);
    await new Promise((res) => setTimeout(res, 5000));
    assert.equal(outside.hits.length, 0, "no request reached the server outside the allow-list");
  });
});
