// charts/vireo: helm lint, renders against a values matrix, and deploy/ equal to the default render. Runs the
// helm that e2e/cluster/build-helm.sh builds (npm test's pretest runs it via build-test-tools.sh).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { CHART_DIR, helmBinary, helmTemplate, renderDeploy } from "../deploy/generate.ts";
import { loadConfig, loadLoadgenConfig, USAGE } from "../src/config.ts";

const ROOT = join(import.meta.dirname, "..");

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are inspected field by field
  spec?: any;
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

function render(...set: string[]): Obj[] {
  return parseAllDocuments(helmTemplate(set.flatMap((s) => ["--set", s])))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}
const names = (objs: Obj[], kind: string) =>
  objs.filter((o) => o.kind === kind).map((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`);
const container = (objs: Obj[]) =>
  objs.find((o) => o.kind === "Deployment")?.spec.template.spec.containers[0];

describe("charts/vireo", () => {
  it("passes helm lint --strict", () => {
    const out = execFileSync(helmBinary(), ["lint", "--strict", CHART_DIR], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("ships the CRDs of crds/ unchanged (helm installs them before the templates)", () => {
    const withCrds = helmTemplate(["--include-crds"]);
    const rendered = parseAllDocuments(withCrds)
      .map((d) => d.toJS())
      .filter((o) => o?.kind === "CustomResourceDefinition");
    const files = readdirSync(join(ROOT, "crds")).filter((f) => f.endsWith(".yaml"));
    assert.equal(rendered.length, files.length);
    for (const file of files) {
      const crd = parseAllDocuments(readFileSync(join(ROOT, "crds", file), "utf8"))[0]?.toJS();
      assert.deepEqual(
        rendered.find((o) => o.metadata.name === crd.metadata.name),
        crd,
        file,
      );
    }
  });

  it("deploy/*.yaml are exactly the default render (run npm run chart:deploy after changing the chart)", () => {
    const files = renderDeploy();
    assert.deepEqual(Object.keys(files).sort(), ["controller.yaml", "namespace.yaml", "rbac.yaml"]);
    for (const [name, text] of Object.entries(files))
      assert.equal(
        readFileSync(join(ROOT, "deploy", name), "utf8"),
        text,
        `deploy/${name} drifted from the chart`,
      );
  });

  it("heap.maxOldSpaceMiB=null leaves V8's old generation unbounded: no NODE_OPTIONS", () => {
    const env = container(render("heap.maxOldSpaceMiB=null")).env as { name: string }[];
    assert.deepEqual(
      env.filter((e) => e.name === "NODE_OPTIONS"),
      [],
    );
  });

  it("defaults: cluster-wide RBAC, two replicas, heap cap, probes, restricted security context, no ServiceMonitor", () => {
    const objs = render();
    assert.deepEqual(names(objs, "ClusterRoleBinding"), ["/vireo-controller", "/vireo-secret-reader"]);
    assert.deepEqual(names(objs, "RoleBinding"), ["vireo-system/vireo-leader-election"]);
    assert.deepEqual(names(objs, "ServiceMonitor"), []);
    const deployment = objs.find((o) => o.kind === "Deployment");
    assert.equal(deployment?.spec.replicas, 2);
    const c = container(objs);
    assert.equal(c.image, "ghcr.io/vireo-dev/vireo:0.1.0");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(deployment?.spec.template.spec.securityContext.runAsUser, 10001);
    assert.equal(
      c.env.find((e: { name: string }) => e.name === "NODE_OPTIONS").value,
      "--max-old-space-size=192",
    );
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    const service = objs.find((o) => o.kind === "Service");
    assert.deepEqual(service?.spec.selector, deployment?.spec.selector.matchLabels);
  });

  it("has a value for every controller flag, and the rendered args parse to those values", () => {
    const objs = render(
      "watchNamespaces={shop,pay}",
      "selector=shard in (a\\,b)",
      "workers=8",
      "analysisConcurrency=32",
      "logLevel=debug",
      "shutdownGraceMs=15000",
      "deletionTimeout=90s",
      "kubeQps=20",
      "kubeBurst=40",
      "leaderElection.leaseName=vireo-shard-a",
      "leaderElection.leaseNamespace=vireo-leases",
      "prometheus.url=http://prom.monitoring:9090",
      "prometheus.allowedUrls={http://prom-a:9090,https://prom-b/api}",
      "prometheus.scrapeInterval=30s",
      "checks.allowedUrls={http://hooks.shop:8080/}",
      "checks.jobNamespaces={shop}",
      "metricsMesh=istio",
      "trustDomain=prod.example.com",
      "notifications.slackSecret=vireo-system/slack",
      "metrics.port=9000",
      "metrics.host=127.0.0.1",
      "routing.allowedHosts.shop={shop.example.com,*.shop.example.com}",
      "routing.allowedGateways.shop={istio-system/public}",
      "queries.scopeToNamespace=true",
      "queries.namespaceLabel=kubernetes_namespace",
      "egress.allow={10.0.0.7/32}",
      "egress.deny={10.0.0.0/8,fd00::/8}",
      "egress.proxy=http://proxy.corp:3128",
    );
    const args: string[] = container(objs).args;
    const flags = [...USAGE.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
    const rendered = new Set(args.map((a) => /^--([a-z-]+)=/.exec(a)?.[1]));
    // --kubeconfig only: a pod uses its ServiceAccount.
    assert.deepEqual(
      [...new Set(flags)].filter((f) => !rendered.has(f)),
      ["kubeconfig"],
    );
    const config = loadConfig(args, { POD_NAMESPACE: "vireo-system", POD_NAME: "p" });
    assert.deepEqual(config.namespaces, ["shop", "pay"]);
    assert.equal(config.selector, "shard in (a,b)");
    assert.equal(config.workers, 8);
    assert.equal(config.analysisConcurrency, 32);
    assert.equal(config.logLevel, "debug");
    assert.equal(config.shutdownGraceMs, 15000);
    assert.equal(config.deletionTimeoutMs, 90_000);
    assert.equal(config.kubeQps, 20);
    assert.equal(config.kubeBurst, 40);
    assert.equal(config.leaseName, "vireo-shard-a");
    assert.equal(config.leaseNamespace, "vireo-leases");
    assert.equal(config.prometheusUrl, "http://prom.monitoring:9090");
    assert.equal(config.allowedPrometheusUrls.length, 2);
    assert.equal(config.prometheusScrapeIntervalMs, 30_000);
    assert.deepEqual(config.allowedCheckUrls, ["http://hooks.shop:8080/"]);
    assert.deepEqual(config.jobNamespaces, ["shop"]);
    assert.equal(config.metricsMesh, "istio");
    assert.equal(config.trustDomain, "prod.example.com");
    assert.equal(config.slackSecret, "vireo-system/slack");
    assert.equal(config.metricsPort, 9000);
    assert.equal(config.metricsHost, "127.0.0.1");
    assert.deepEqual(config.exposure, {
      hosts: [
        { namespace: "shop", pattern: "shop.example.com" },
        { namespace: "shop", pattern: "*.shop.example.com" },
      ],
      gateways: [{ namespace: "shop", pattern: "istio-system/public" }],
    });
    assert.equal(config.scopeQueries, true);
    assert.equal(config.queryNamespaceLabel, "kubernetes_namespace");
    assert.deepEqual(config.egressAllow, ["10.0.0.7/32"]);
    assert.deepEqual(config.egressDeny, ["10.0.0.0/8", "fd00:0:0:0:0:0:0:0/8"]);
    assert.equal(config.egressProxy, "http://proxy.corp:3128");
    // The Lease Role follows the lease namespace.
    assert.deepEqual(names(objs, "Role"), ["vireo-leases/vireo-leader-election"]);
  });

  it("values-multi-tenant.yaml scopes queries and closes the cluster's private networks to tenants' URLs", () => {
    const objs = parseAllDocuments(helmTemplate(["-f", join(CHART_DIR, "values-multi-tenant.yaml")]))
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
    const config = loadConfig(container(objs).args, { POD_NAMESPACE: "vireo-system", POD_NAME: "p" });
    assert.equal(config.scopeQueries, true);
    assert.equal(config.queryNamespaceLabel, "namespace");
    assert.ok(config.egressDeny.includes("10.0.0.0/8"));
    assert.deepEqual(config.egressAllow, []);
  });

  it("rbac.scope=namespaced binds the controller and the Secret reader in the listed namespaces only", () => {
    const objs = render(
      "rbac.scope=namespaced",
      "watchNamespaces={shop,pay}",
      "notifications.slackSecret=ops/slack",
    );
    assert.deepEqual(names(objs, "ClusterRoleBinding"), []);
    assert.deepEqual(names(objs, "RoleBinding").sort(), [
      "ops/vireo-secret-reader",
      "pay/vireo-controller",
      "pay/vireo-secret-reader",
      "shop/vireo-controller",
      "shop/vireo-secret-reader",
      "vireo-system/vireo-leader-election",
    ]);
    for (const b of objs.filter((o) => o.kind === "RoleBinding"))
      assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "vireo", namespace: "vireo-system" }]);
    assert.ok(container(objs).args.includes("--namespace=shop,pay"));
  });

  it("rbac.secretNamespaces narrows Secrets in a cluster-wide install", () => {
    const objs = render("rbac.secretNamespaces={shop}");
    assert.deepEqual(names(objs, "ClusterRoleBinding"), ["/vireo-controller"]);
    assert.deepEqual(names(objs, "RoleBinding").sort(), [
      "shop/vireo-secret-reader",
      "vireo-system/vireo-leader-election",
    ]);
  });

  it("refuses contradictory values", () => {
    assert.throws(() => render("rbac.scope=namespaced"), /needs watchNamespaces/);
    assert.throws(() => render("rbac.scope=tenant"), /rbac.scope must be cluster or namespaced/);
    assert.throws(() => render("notifications.slackSecret=slack"), /namespace\/name/);
  });

  it("optional pieces: ServiceMonitor, image digest, no leader election, release name", () => {
    const monitored = render(
      "metrics.serviceMonitor.enabled=true",
      "metrics.serviceMonitor.labels.release=kps",
    );
    const sm = monitored.find((o) => o.kind === "ServiceMonitor");
    assert.equal(sm?.metadata.labels?.release, "kps");
    assert.deepEqual(
      sm?.spec.selector.matchLabels,
      monitored.find((o) => o.kind === "Service")?.spec.selector,
    );
    assert.equal(sm?.spec.endpoints[0].port, "metrics");

    const pinned = render(`image.digest=sha256:${"a".repeat(64)}`);
    assert.equal(container(pinned).image, `ghcr.io/vireo-dev/vireo@sha256:${"a".repeat(64)}`);

    const single = render("leaderElection.enabled=false", "replicas=1");
    assert.deepEqual(names(single, "Role"), []);
    assert.ok(container(single).args.includes("--leader-elect=false"));

    const other = parseAllDocuments(helmTemplate([], "shard-b", "vireo-b"))
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
    assert.deepEqual(names(other, "ClusterRole").sort(), ["/shard-b-controller", "/shard-b-secret-reader"]);
    assert.deepEqual(names(other, "Deployment"), ["vireo-b/shard-b-controller"]);
  });

  it("loadgen.enabled: the load generator in its namespace, no API rights, its URL on the allow-list", () => {
    assert.deepEqual(
      render().filter((o) => o.metadata.name.endsWith("-loadgen")),
      [],
      "off by default",
    );
    const objs = render(
      "loadgen.enabled=true",
      "loadgen.namespace=shop",
      "checks.allowedUrls={http://hooks.shop:8080/}",
    );
    const lg = objs.filter((o) => o.metadata.name === "vireo-loadgen");
    assert.deepEqual(lg.map((o) => `${o.kind} ${o.metadata.namespace}`).sort(), [
      "Deployment shop",
      "Service shop",
      "ServiceAccount shop",
    ]);
    // No Role or binding names it, and no token is mounted: it reads no Kubernetes API.
    for (const b of objs.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding"))
      assert.ok(!(b.subjects ?? []).some((s) => s.name === "vireo-loadgen"), b.metadata.name);
    const sa = lg.find((o) => o.kind === "ServiceAccount") as unknown as {
      automountServiceAccountToken: boolean;
    };
    assert.equal(sa.automountServiceAccountToken, false);
    const deployment = lg.find((o) => o.kind === "Deployment")!;
    const pod = deployment.spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, "vireo-loadgen");
    // Neither Deployment's selector picks the other's pods.
    const controller = objs.find((o) => o.kind === "Deployment" && o.metadata.name === "vireo-controller")!;
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    const controllerSelector = controller.spec.selector.matchLabels as Record<string, string>;
    assert.ok(Object.entries(controllerSelector).some(([k, v]) => podLabels[k] !== v));
    const [command, ...flags] = pod.containers[0].args as string[];
    assert.equal(command, "loadgen");
    const config = loadLoadgenConfig(flags, { POD_NAMESPACE: "shop" });
    assert.equal(config.namespace, "shop");
    assert.equal(config.maxRps, 100);
    assert.deepEqual(config.egressAllow, [], "loopback, link-local and metadata stay refused by default");
    const opened = render(
      "loadgen.enabled=true",
      "loadgen.egressAllow={10.0.5.0/24}",
      "loadgen.egressDeny={10.1.0.0/16,10.2.0.0/16}",
    ).find((o) => o.kind === "Deployment" && o.metadata.name === "vireo-loadgen")!;
    const egress = loadLoadgenConfig(opened.spec.template.spec.containers[0].args.slice(1), {
      POD_NAMESPACE: "s",
    });
    assert.deepEqual(
      [egress.egressAllow, egress.egressDeny],
      [["10.0.5.0/24"], ["10.1.0.0/16", "10.2.0.0/16"]],
    );
    const controllerArgs: string[] = controller.spec.template.spec.containers[0].args;
    assert.ok(
      controllerArgs.includes("--allowed-check-urls=http://hooks.shop:8080/,http://vireo-loadgen.shop:8080/"),
      controllerArgs.join(" "),
    );
  });
});
