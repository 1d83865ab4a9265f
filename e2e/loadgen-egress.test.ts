// e2e: the load generator's targets pass the egress policy. On the real control plane, a tenant's ExternalName
// Service in the load generator's namespace aims at loopback (where a receiver listens, standing for whatever a pod
// or node serves there): the webhook check fails with the load generator's reason and the receiver gets 0 requests,
// while a plain Service on the same port, at an address the operator opened, gets the load. The API server refuses
// hand-written endpoints on loopback and link-local addresses, so there a ClusterIP Service cannot reach either.
//
// Cluster DNS without a cluster: the load generator runs in its own mount namespace whose /etc/hosts is written from
// the Services the API server holds, as a pod's DNS would answer: an ExternalName Service's name → what its
// externalName resolves to (CoreDNS's CNAME, chased), a ClusterIP Service's name → the loopback address its
// receiver listens on (kube-proxy's part). The load generator resolves through the system resolver as in a pod.
//
// Why the refusal is for the reason under test: the operator opens 127.0.0.2/32 only (`--egress-allow`), for the
// real target; the ExternalName resolves to 127.0.0.1, which stays denied as loopback. Both receivers listen on the
// same port, so the two Services differ only in the address their name resolves to; the plain Service's load is the
// control that DNS, the port and the flag work, so "0 requests" cannot come from a name that never resolved. The
// message is asserted to be the policy's ("127.0.0.1 is loopback"), not a network error.
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, getJson, setImage, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";
import { startLoadgen } from "./support/loadgen-process.ts";
import { LoopbackServer } from "./support/loopback-server.ts";

const NS = "lg-egress";
/** The only loopback address the operator opens to the load generator: where Service `web`'s receiver listens. */
const WEB_ADDRESS = "127.0.0.2";

/** A loopback HTTP server counting what it gets. */
class Receiver extends LoopbackServer {
  hits = 0;
  constructor() {
    super((_req, res) => {
      this.hits++;
      res.end("ok");
    });
  }
}

interface Service {
  metadata: { name: string };
  spec: { type?: string; externalName?: string };
}

let cluster: Cluster;
let controller: ControllerProcess | undefined;
let loadgen: (ControllerProcess & { url: string }) | undefined;
const web = new Receiver();
const loopback = new Receiver();

async function kubectl(args: string[], input?: string) {
  return cluster.kubectl(args, input === undefined ? {} : { input });
}

/** /etc/hosts for the load generator: the system's, plus each Service of `NS` as cluster DNS would answer. */
async function clusterDnsHosts(kubeProxy: Record<string, string>): Promise<string> {
  const list = await getJson<{ items: Service[] }>(cluster, ["services", "-n", NS]);
  const lines = [readFileSync("/etc/hosts", "utf8").trimEnd()];
  for (const svc of list?.items ?? []) {
    const fqdn = `${svc.metadata.name}.${NS}.svc.cluster.local`;
    const addresses =
      svc.spec.type === "ExternalName"
        ? (await lookup(svc.spec.externalName ?? "", { all: true })).map((a) => a.address)
        : [kubeProxy[svc.metadata.name]];
    for (const a of addresses) if (a) lines.push(`${a} ${fqdn}`);
  }
  return `${lines.join("\n")}\n`;
}

interface RunReport {
  state: string;
  sent: number;
  planned: { service: string };
}
const runs = async () => (await (await fetch(`${loadgen!.url}/runs/`)).json()) as RunReport[];
const refusedAt = async (at: string) =>
  metricValue(await loadgen!.metrics(), "vireo_loadgen_targets_refused_total", { at });

describe("the load generator's targets pass the egress policy (real control plane)", () => {
  const report: string[] = [];

  before(async () => {
    cluster = await startCluster({ prometheus: false });
    // Same port on both addresses: only the DNS answer tells the two Services apart.
    await web.up(WEB_ADDRESS);
    await loopback.up("127.0.0.1", web.port);
    const services = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: NS },
        spec: { selector: { app: "web" }, ports: [{ port: web.port }] },
      },
      // The tenant's own Service, aimed at the load generator's loopback.
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "evil", namespace: NS },
        spec: { type: "ExternalName", externalName: "localhost" },
      },
    ];
    await apply(cluster, services.map((s) => JSON.stringify(s)).join("\n---\n"));
    const hostsFile = join(cluster.dir, "loadgen-hosts");
    writeFileSync(hostsFile, await clusterDnsHosts({ web: WEB_ADDRESS }));
    const api = new URL(cluster.apiServerUrl);
    loadgen = await startLoadgen({
      namespace: NS,
      logDir: join(cluster.dir, "logs"),
      hostsFile,
      // The operator opens the real target's address only; the API server as a pod would see it.
      args: [`--egress-allow=${WEB_ADDRESS}/32`],
      env: { KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port },
    });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [`--allowed-check-urls=${loadgen.url}/`],
    });
  });

  after(async () => {
    await controller?.stop();
    await loadgen?.stop();
    await Promise.all([web.down(), loopback.down()]);
    if (report.length > 0) console.log(`\n[loadgen-egress]\n${report.join("\n")}\n`);
    await cluster?.stop();
  });

  it("an ExternalName Service aimed at loopback: the check fails with the policy's reason, 0 requests sent", async () => {
    const load = (service: string) => ({
      name: "load",
      webhook: {
        url: `${loadgen!.url}/load`,
        timeout: "5s",
        retries: 1,
        metadata: { service, port: String(web.port), rps: "20", duration: "3s" },
      },
    });
    await apply(
      cluster,
      appManifests({
        namespace: NS,
        steps: [{ check: "load" }, { setWeight: 50 }],
        extraSpec: { checks: [load("web")] },
      }),
    );
    const healthy = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "Healthy",
      (r) => r.status?.phase === "Healthy",
    );

    // The control: Service `web` (port P at the opened address) gets the load and the check passes.
    await setImage(cluster, NS, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const promoted = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "promoted",
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== healthy.status?.stableRevision,
      120_000,
    );
    assert.equal(promoted.status?.checks?.find((c) => c.name === "load")?.phase, "Passed");
    const [done] = await waitFor("the run for web to end", runs, (l) => l[0]?.state === "done", 60_000);
    assert.ok(done && done.sent > 0 && web.hits === done.sent, `web got ${web.hits} of ${done?.sent} sent`);
    assert.equal(loopback.hits, 0);

    // The attack: the same check, naming the ExternalName Service whose name resolves to 127.0.0.1.
    const patch = [{ op: "replace", path: "/spec/checks/0/webhook/metadata/service", value: "evil" }];
    const patched = await kubectl([
      "patch",
      "rollout",
      "podinfo",
      "-n",
      NS,
      "--type=json",
      `-p=${JSON.stringify(patch)}`,
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "new spec observed",
      (r) => r.status?.observedGeneration === r.metadata?.generation && r.status?.phase === "Healthy",
      30_000,
    );
    const webBefore = web.hits;
    await setImage(cluster, NS, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.2");
    const failed: Rollout = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "RolledBack",
      (r) => r.status?.phase === "RolledBack",
      120_000,
    );
    const check = failed.status?.checks?.find((c) => c.name === "load");
    assert.equal(check?.phase, "Failed", JSON.stringify(check));
    assert.match(check?.message ?? "", /4xx: egress policy refuses service evil: 127\.0\.0\.1 is loopback/);
    // Long enough for a 3 s run to have sent most of its 60 requests, had one started.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(loopback.hits, 0, "the loopback receiver got nothing");
    assert.equal(web.hits, webBefore, "and nothing went elsewhere");
    assert.deepEqual(
      (await runs()).map((r) => r.planned.service),
      ["web"],
      "no run was started for evil",
    );
    assert.ok((await refusedAt("start")) >= 1);
    assert.equal(await refusedAt("connect"), 0);
    report.push(`  web got ${web.hits} requests; loopback 0; the check said "${check?.message}"`);
  });

  it("an ExternalName Service aimed at the API server's port is refused as the API server", async () => {
    const api = new URL(cluster.apiServerUrl);
    const answer = await fetch(`${loadgen!.url}/load`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "api-1" },
      body: JSON.stringify({ name: "podinfo", namespace: NS, metadata: { service: "evil", port: api.port } }),
    });
    assert.equal(answer.status, 403);
    const { vireoMessage } = (await answer.json()) as { vireoMessage: string };
    assert.equal(
      vireoMessage,
      `egress policy refuses service evil: 127.0.0.1:${api.port} is the Kubernetes API server`,
    );
  });

  it("the API server refuses hand-written endpoints on loopback and link-local addresses", async () => {
    for (const ip of ["127.0.0.1", "169.254.169.254"]) {
      const endpoints = {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "handmade", namespace: NS },
        subsets: [{ addresses: [{ ip }], ports: [{ port: 80 }] }],
      };
      const slice = {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "handmade", namespace: NS, labels: { "kubernetes.io/service-name": "handmade" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [ip] }],
        ports: [{ port: 80 }],
      };
      for (const obj of [endpoints, slice]) {
        const r = await kubectl(["create", "-f", "-"], JSON.stringify(obj));
        assert.notEqual(r.code, 0, `${obj.kind} with ${ip} was accepted`);
        assert.match(r.stderr, /loopback|link-local/, r.stderr);
      }
    }
  });
});
