// The Istio harness's own pieces, without istiod: where the binaries are looked up, reading pushed Envoy config,
// the share tolerance, workload names and the mesh certificates.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { xdsprobePath } from "../cluster/istiod.ts";
import { REPO_ROOT, resolveBinaries } from "../cluster/paths.ts";
import { workloadOf } from "../dataplane/grpc-pods.ts";
import { type AdsState, outboundCluster, pushedSplit, rbacPolicies, routeTargets } from "./envoy-config.ts";
import type { Outcome } from "./grpc-load.ts";
import { meshCerts, spiffeId } from "./mesh-certs.ts";
import { switchAt, withinBinomial } from "./traffic.ts";

describe("Istio harness", () => {
  it("looks xdsprobe up under the same source hash build-istio.sh caches it by", () => {
    const script = readFileSync(join(REPO_ROOT, "e2e", "cluster", "build-istio.sh"), "utf8");
    const line = script.split("\n").find((l) => l.startsWith("PROBE_HASH="));
    assert.ok(line, "build-istio.sh computes PROBE_HASH");
    const hash = execFileSync(
      "bash",
      ["-c", `HERE=${join(REPO_ROOT, "e2e", "cluster")}; ${line}; echo $PROBE_HASH`],
      {
        encoding: "utf8",
      },
    ).trim();
    assert.match(hash, /^[0-9a-f]{12}$/);
    assert.ok(xdsprobePath().endsWith(`/xdsprobe-${hash}/xdsprobe`), xdsprobePath());
  });

  it("reads the split of a route: a single cluster is 100, weighted clusters their weights", () => {
    assert.deepEqual(routeTargets({ route: { cluster: "a" } }), { a: 100 });
    assert.deepEqual(
      routeTargets({
        route: {
          weightedClusters: {
            clusters: [
              { name: "a", weight: 90 },
              { name: "b", weight: 10 },
            ],
          },
        },
      }),
      { a: 90, b: 10 },
    );
    assert.deepEqual(routeTargets({ directResponse: { status: 404 } }), {});
    const state: AdsState = {
      nodeId: "n",
      listeners: null,
      clusters: null,
      endpoints: null,
      pushes: [],
      errors: [],
      routes: {
        "80": {
          virtualHosts: [
            {
              domains: ["other.shop.svc.cluster.local"],
              routes: [{ route: { cluster: outboundCluster("other.shop.svc.cluster.local", 80) } }],
            },
            {
              domains: ["podinfo.shop.svc.cluster.local:80", "podinfo"],
              routes: [
                {
                  route: {
                    weightedClusters: {
                      clusters: [
                        { name: "p", weight: 70 },
                        { name: "c", weight: 30 },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      },
    };
    assert.deepEqual(pushedSplit(state, "80", "podinfo.shop.svc.cluster.local"), { p: 70, c: 30 });
    assert.deepEqual(pushedSplit(state, "80", "podinfo.shop"), {}, "no partial-name matches");
    assert.deepEqual(rbacPolicies(state, "virtualInbound"), []);
  });

  it("finds RBAC policies in the HTTP filters of a listener's filter chains", () => {
    const state = {
      listeners: {
        virtualInbound: {
          filterChains: [
            {
              filters: [
                {
                  typedConfig: {
                    httpFilters: [
                      { name: "envoy.filters.http.router" },
                      {
                        name: "envoy.filters.http.rbac",
                        typedConfig: { rules: { policies: { "ns[a]-policy[b]-rule[0]": {} } } },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      },
    } as unknown as AdsState;
    assert.deepEqual(rbacPolicies(state, "virtualInbound"), [{ "ns[a]-policy[b]-rule[0]": {} }]);
  });

  it("accepts served shares within four binomial standard deviations, refuses beyond", () => {
    assert.ok(withinBinomial(10, 10, 1000));
    assert.ok(withinBinomial(13.5, 10, 1000));
    assert.ok(!withinBinomial(14.5, 10, 1000));
    assert.ok(withinBinomial(0, 0, 10));
    assert.ok(!withinBinomial(1, 0, 10_000));
  });

  it("finds when an RPC stream switched weights, to within a few RPCs", () => {
    // 100 RPCs a second; canary picks spread evenly at 10 % before t=1000 ms, 50 % after t=1350 ms.
    const rpc = (at: number, canary: boolean): Outcome => ({
      at,
      durationMs: 1,
      code: 0,
      workload: canary ? "echo" : "echo-primary",
      error: "",
    });
    const xs: Outcome[] = [];
    for (let i = 0; i < 400; i++) {
      const at = i * 10;
      xs.push(rpc(at, at < 1350 ? i % 10 === 0 : i % 2 === 0));
    }
    const at = switchAt(xs, "echo", 10, 50, 1000);
    assert.ok(Math.abs(at - 1350) <= 40, `switch found at ${at}`);
    assert.equal(switchAt(xs, "echo", 10, 50, 2000), 2000, "never before the write");
  });

  it("names a Deployment's pod by its Deployment, as Istio labels destination_workload", () => {
    const pod = (owner: string, hash?: string) => ({
      metadata: {
        name: `${owner}-x1y2z`,
        ...(hash ? { labels: { "pod-template-hash": hash } } : {}),
        ownerReferences: [{ kind: "ReplicaSet", name: owner }],
      },
    });
    assert.equal(workloadOf(pod("echo-primary-5d8f9c", "5d8f9c")), "echo-primary");
    assert.equal(workloadOf(pod("standalone-rs")), "standalone-rs");
    assert.equal(workloadOf({ metadata: { name: "bare" } }), "bare");
  });

  const dir = mkdtempSync(join(tmpdir(), "vireo-mesh-certs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("issues SPIFFE workload certificates the mesh root verifies", async () => {
    const certs = await meshCerts(resolveBinaries().openssl, dir);
    const d = await certs.dirOf("web", "frontend");
    assert.equal(await certs.dirOf("web", "frontend"), d, "issued once");
    const openssl = resolveBinaries().openssl;
    const text = execFileSync(openssl, ["x509", "-in", join(d, "cert-chain.pem"), "-noout", "-text"], {
      encoding: "utf8",
    });
    assert.match(text, new RegExp(`URI:${spiffeId("web", "frontend").replaceAll("/", "\\/")}`));
    const verified = execFileSync(
      openssl,
      ["verify", "-CAfile", join(d, "root-cert.pem"), join(d, "cert-chain.pem")],
      {
        encoding: "utf8",
      },
    );
    assert.match(verified, /OK/);
  });
});
