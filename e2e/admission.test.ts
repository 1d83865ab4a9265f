// Admission-time limits on a real API server: over-long derived names are refused by the CRD's CEL rules with the
// field named, targetRef/service cannot change mid-rollout, and limits only the cluster knows (the target's
// selector values) make the controller report Invalid before it creates anything.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { ROOT_RULE_MESSAGES } from "../src/api/crd.ts";
import { LIMIT_MESSAGES } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { apply, appManifests, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const NS = "admission";
const ROLLOUTS = `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts`;

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess | undefined;

/** A valid Rollout, with `spec` merged over the defaults. */
function rollout(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name },
    spec: {
      targetRef: { name: "podinfo" },
      service: { port: 80 },
      provider: "smi",
      strategy: { canary: { steps: [{ setWeight: 50 }] } },
      ...spec,
    },
  };
}

/** The API server's 422 message for a dry-run create of `body`. */
async function rejection(body: unknown): Promise<string> {
  try {
    await kubeRequest(kc, "POST", `${ROLLOUTS}?dryRun=All`, body);
  } catch (err) {
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.status, 422, err.message);
    return err.message;
  }
  return assert.fail("the API server accepted an invalid Rollout");
}

/** Starts the controller once, for the cases that need it (the CEL cases do not). */
async function ensureController(): Promise<void> {
  controller ??= await startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
  });
}

const getJsonOf = <T>(args: string[]) => getJson<T>(cluster, args);
const accepted = (body: unknown) => kubeRequest(kc, "POST", `${ROLLOUTS}?dryRun=All`, body);
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("admission-time limits on a real API server", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    await apply(cluster, JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }));
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("refuses over-long derived names with the field path and the limit named", async () => {
    const cases: { what: string; body: unknown; path: string; message: string }[] = [
      {
        what: "a Rollout name that cannot be a label value",
        body: rollout("r".repeat(64)),
        path: "<nil>", // a root rule names no field, and the API server refuses fieldPath .metadata.name
        message: ROOT_RULE_MESSAGES.nameTooLong,
      },
      {
        what: "service.name + -primary over 63",
        body: rollout("svc-long", { service: { name: `s${"e".repeat(55)}`, port: 80 } }),
        path: "spec.service.name",
        message: LIMIT_MESSAGES.serviceNameTooLong,
      },
      {
        what: "a service.name that is not a DNS-1035 label",
        body: rollout("svc-digit", { service: { name: "1checkout", port: 80 } }),
        path: "spec.service.name",
        message: LIMIT_MESSAGES.serviceNameShape,
      },
      {
        what: "targetRef.name + -primary over 253",
        body: rollout("target-long", {
          targetRef: { name: "t".repeat(246) },
          service: { name: "podinfo", port: 80 },
        }),
        path: "spec.targetRef.name",
        message: LIMIT_MESSAGES.targetNameTooLong,
      },
      {
        what: "a targetRef.name the default Service name cannot be",
        body: rollout("target-dots", { targetRef: { name: "podinfo.v2" } }),
        path: "spec.targetRef.name",
        message: LIMIT_MESSAGES.defaultServiceName,
      },
      {
        what: "a Linkerd pathRegex over 1024 once rendered",
        body: rollout("path-long", {
          provider: "linkerd",
          accessPolicy: {
            sources: [{ serviceAccount: "frontend" }],
            routes: [{ pathRegex: `/${"a".repeat(1017)}` }],
          },
        }),
        path: "spec.accessPolicy.routes",
        message: LIMIT_MESSAGES.linkerdPathTooLong,
      },
    ];
    for (const c of cases) {
      const message = await rejection(c.body);
      assert.match(message, new RegExp(`${literal(c.path)}: Invalid value`), `${c.what}: ${message}`);
      assert.ok(message.includes(c.message), `${c.what}: ${message}`);
    }
  });

  it("accepts names exactly at each limit", async () => {
    await accepted(rollout("r".repeat(63), { service: { name: `s${"e".repeat(54)}`, port: 80 } }));
    await accepted(
      rollout("target-max", { targetRef: { name: "t".repeat(245) }, service: { port: 80, name: "x" } }),
    );
    await accepted(
      rollout("path-max", {
        provider: "linkerd",
        accessPolicy: {
          sources: [{ serviceAccount: "frontend" }],
          routes: [{ pathRegex: `/${"a".repeat(1016)}` }],
        },
      }),
    );
    // The Linkerd limit is Linkerd's: Istio and SMI write the path without the wrapper.
    await accepted(
      rollout("path-smi", {
        accessPolicy: {
          sources: [{ serviceAccount: "frontend" }],
          routes: [{ pathRegex: `/${"a".repeat(1023)}` }],
        },
      }),
    );
  });

  it("refuses a targetRef or Service change while a rollout is in flight, allows it otherwise", async () => {
    await kubeRequest(kc, "POST", ROLLOUTS, rollout("moving"));
    const setPhase = (phase: string) =>
      kubeRequest(
        kc,
        "PATCH",
        `${ROLLOUTS}/moving/status`,
        { status: { phase } },
        "application/merge-patch+json",
      );
    const patchSpec = (spec: unknown) =>
      kubeRequest(kc, "PATCH", `${ROLLOUTS}/moving`, { spec }, "application/merge-patch+json");
    await setPhase("Progressing");
    for (const [spec, message, path] of [
      [
        { targetRef: { name: "other" }, service: { name: "podinfo" } },
        ROOT_RULE_MESSAGES.targetChanged,
        "spec.targetRef.name",
      ],
      [{ service: { name: "elsewhere" } }, ROOT_RULE_MESSAGES.serviceChanged, "spec.service"],
    ] as const) {
      const err = await patchSpec(spec).then(
        () => assert.fail("the API server accepted a change mid-rollout"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError && err.status === 422, String(err));
      assert.ok(err.message.includes(`${path}: Forbidden: ${message}`), err.message);
    }
    // Other spec fields still change mid-rollout, and the status subresource is not blocked by the rule.
    await patchSpec({ progressDeadlineSeconds: 300 });
    await setPhase("Paused");
    await setPhase("Healthy");
    await patchSpec({ targetRef: { name: "other" }, service: { name: "elsewhere" } });
    const stored = await getRollout(cluster, NS, "moving");
    assert.equal(stored?.spec.targetRef.name, "other");
  });

  it("a long-named Rollout stored before the name rule can still be updated and let its finalizer go", async () => {
    const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.vireo.dev";
    type Crd = {
      metadata: { resourceVersion?: string };
      spec: {
        versions: { schema: { openAPIV3Schema: { "x-kubernetes-validations": { rule: string }[] } } }[];
      };
    };
    const rulesOf = (crd: Crd) => crd.spec.versions[0]!.schema.openAPIV3Schema;
    const original = await kubeRequest<Crd>(kc, "GET", crdPath);
    const withoutNameRule = structuredClone(original);
    const schema = rulesOf(withoutNameRule);
    schema["x-kubernetes-validations"] = schema["x-kubernetes-validations"].filter(
      (r) => !r.rule.includes("metadata.name"),
    );
    assert.equal(
      schema["x-kubernetes-validations"].length,
      rulesOf(original)["x-kubernetes-validations"].length - 1,
    );
    await kubeRequest(kc, "PUT", crdPath, withoutNameRule);
    const name = "r".repeat(70);
    const body = { ...rollout(name), metadata: { name, finalizers: ["vireo.dev/traffic-restore"] } };
    await waitFor(
      "the CRD without the name rule",
      () =>
        kubeRequest(kc, "POST", ROLLOUTS, body).then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      30_000,
    );
    const current = await kubeRequest<Crd>(kc, "GET", crdPath);
    await kubeRequest(kc, "PUT", crdPath, {
      ...original,
      metadata: { ...original.metadata, resourceVersion: current.metadata.resourceVersion },
    });
    await waitFor(
      "the name rule back",
      () =>
        accepted(rollout("s".repeat(70))).then(
          () => false,
          () => true,
        ),
      (refused) => refused,
      30_000,
    );
    const merge = (patch: unknown) =>
      kubeRequest(kc, "PATCH", `${ROLLOUTS}/${name}`, patch, "application/merge-patch+json");
    await merge({ metadata: { labels: { team: "a" } } });
    await kubeRequest(kc, "DELETE", `${ROLLOUTS}/${name}`);
    await merge({ metadata: { finalizers: null } });
    await waitFor(
      "the Rollout to be gone",
      () =>
        kubeRequest(kc, "GET", `${ROLLOUTS}/${name}`).then(
          () => false,
          (e: unknown) => e instanceof KubeApiError && e.status === 404,
        ),
      (gone) => gone,
      30_000,
    );
  });

  it("a selector value too long for -primary: Invalid and Degraded before any object is created", async () => {
    await ensureController();
    const ns = "admission-runtime";
    const long = `a${"p".repeat(58)}`; // 59 characters: fine for the user, 67 with -primary
    const manifests = appManifests({ namespace: ns, name: "podinfo" }).replaceAll(
      '{"app":"podinfo"}',
      JSON.stringify({ app: long }),
    );
    assert.ok(manifests.includes(long), "the fixture carries the long label");
    await apply(cluster, manifests);
    const invalid = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Invalid",
      (r) => r.status?.phase === "Invalid",
    );
    const degraded = invalid.status?.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.status, "True");
    assert.equal(degraded?.reason, "InvalidSpec");
    assert.match(
      degraded?.message ?? "",
      new RegExp(
        `spec\\.targetRef\\.name: Deployment podinfo's selector label app=${long} cannot get -primary .*\\(67 > 63`,
      ),
    );
    const primary = await cluster.kubectl(["get", "deployment", "podinfo-primary", "-n", ns]);
    assert.notEqual(primary.code, 0, "no primary Deployment was created");
    const services = await cluster.kubectl(["get", "services", "-n", ns, "-o", "name"]);
    assert.equal(services.stdout.trim(), "", "no Service was created");
  });

  it("a two-port root Service: both backends carry both ports; Istio splits port 80 only; SMI warns once", async () => {
    await ensureController();
    type Svc = { spec: { ports: { name: string; port: number }[] } };
    for (const provider of ["istio", "smi"] as const) {
      const ns = `multiport-${provider}`;
      const root = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "podinfo", namespace: ns },
        spec: {
          selector: { app: "podinfo" },
          ports: [
            { name: "http", port: 80, targetPort: 9898 },
            { name: "metrics", port: 9090, targetPort: 9797 },
          ],
        },
      };
      // The Service before the Rollout, as a user adopting a live app has it.
      const [namespace, deployment, rolloutDoc] = appManifests({
        namespace: ns,
        extraSpec: { provider },
      }).split("\n---\n");
      await apply(cluster, [namespace, deployment, JSON.stringify(root), rolloutDoc].join("\n---\n"));
      await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
      for (const name of ["podinfo-primary", "podinfo-canary"]) {
        const svc = await getJsonOf<Svc>(["service", name, "-n", ns]);
        assert.deepEqual(
          svc?.spec.ports.map((p) => [p.name, p.port]),
          [
            ["http", 80],
            ["metrics", 9090],
          ],
          `${provider} ${name}`,
        );
      }
      // More reconciles (an annotation wakes it; same generation): still one Event, without a series.
      await cluster.kubectl(["annotate", "rollout.vireo.dev/podinfo", "-n", ns, "e2e.vireo.dev/poke=1"]);
      await new Promise((r) => setTimeout(r, 3000));
      const events = await getJsonOf<{ items: { reason: string; note: string; series?: unknown }[] }>([
        "events.events.k8s.io",
        "-n",
        ns,
      ]);
      const warnings = (events?.items ?? []).filter((e) => e.reason === "PortsNotSplit");
      if (provider === "smi") {
        assert.equal(warnings.length, 1, JSON.stringify(warnings));
        assert.equal(warnings[0]?.series, undefined, "recorded once, not once per reconcile");
        assert.match(warnings[0]?.note ?? "", /port 9090 moves to the canary with port 80/);
      } else {
        assert.deepEqual(warnings, []);
        const vs = await getJsonOf<{ spec: { http: { name: string; match?: unknown }[] } }>([
          "virtualservices.networking.istio.io",
          "podinfo",
          "-n",
          ns,
        ]);
        const split = vs?.spec.http.findIndex((h) => h.name === "podinfo") ?? -1;
        assert.deepEqual(vs?.spec.http[split]?.match, [{ port: 80 }]);
        assert.equal(vs?.spec.http[split + 1]?.name, "podinfo-other-ports");
      }
    }
  });
});
