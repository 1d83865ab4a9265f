// deploy/rbac.yaml grants exactly the verbs the controller's code uses: each expected entry names its caller.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { rbacRulesOf } from "../src/mesh/provider.ts";
import { MESH_PROVIDERS } from "../src/mesh/registry.ts";

const ROOT = join(import.meta.dirname, "..");

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

function load(file: string): Doc[] {
  return parseAllDocuments(readFileSync(join(ROOT, file), "utf8")).map((d) => d.toJS() as Doc);
}

/** `group/resource` → sorted verbs, over every rule of the roles named. */
function grants(docs: Doc[], kinds: string[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const d of docs.filter((x) => kinds.includes(x.kind))) {
    for (const r of d.rules ?? []) {
      for (const g of r.apiGroups ?? [])
        for (const res of r.resources ?? []) {
          const key = `${g || "core"}/${res}`;
          out[key] ??= new Set();
          for (const v of r.verbs ?? []) out[key].add(v);
        }
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

describe("deploy/rbac.yaml", () => {
  const docs = load("deploy/rbac.yaml");

  it("grants exactly the verbs the controller uses, cluster-wide", () => {
    const expected: Record<string, string[]> = {
      // Informer list+watch (controller/manager.ts); status-writer.ts patches the finalizer; manager.ts exists()
      // GETs the Rollout a claim label names when it is not in the cache.
      "vireo.dev/rollouts": ["get", "list", "patch", "watch"],
      // status-writer.ts: merge patch of the status subresource.
      "vireo.dev/rollouts/status": ["patch"],
      // Informer list+watch; workload-manager.ts: GET, POST the primary, PATCH replicas and the claim label, PUT on
      // promote, DELETE the primary a renamed targetRef leaves behind (removeMade).
      "apps/deployments": ["create", "delete", "get", "list", "patch", "update", "watch"],
      // workload/in-place.ts: StatefulSet and DaemonSet targets read, claimed, held and restored (fenced PATCH); their
      // ControllerRevisions and pods listed, a step's pods deleted by uid, nodes listed for a DaemonSet's order.
      "apps/statefulsets": ["get", "patch"],
      "apps/daemonsets": ["get", "patch"],
      "apps/controllerrevisions": ["list"],
      // Also check-job-client.ts: a failed check Job's pods listed for the termination message.
      "core/pods": ["delete", "list"],
      "core/nodes": ["list"],
      // Informer list+watch; workload-manager.ts GET/POST/PATCH, DELETE (removeMade); mesh/backend-pods.ts GET.
      "core/services": ["create", "delete", "get", "list", "patch", "watch"],
      // Informer list+watch (controller/manager.ts); workload-manager.ts POST/PUT/DELETE the primary HPA.
      "autoscaling/horizontalpodautoscalers": ["create", "delete", "list", "update", "watch"],
      // controller/secrets.ts: GET by name only (own ClusterRole, so it can be bound per namespace).
      "core/secrets": ["get"],
      // workload/check-job-client.ts: Job checks' Jobs listed by label, created, deleted; the namespace read for its
      // vireo.dev/allow-jobs label.
      "batch/jobs": ["create", "delete", "list"],
      "core/namespaces": ["get"],
      // kube/endpoint-slices.ts: blue/green lists the slices of its Services by label (never written).
      "discovery.k8s.io/endpointslices": ["list"],
      // kube/event-recorder.ts: create, then patch the series count.
      "events.k8s.io/events": ["create", "patch"],
      // controller/template-store.ts: the template informers list and watch.
      "vireo.dev/analysistemplates": ["list", "watch"],
      "vireo.dev/clusteranalysistemplates": ["list", "watch"],
      "argoproj.io/analysistemplates": ["list", "watch"],
      "argoproj.io/clusteranalysistemplates": ["list", "watch"],
    };
    // Each mesh provider's descriptor names the rules it needs (mesh/provider.ts rbacRulesOf): its objects are
    // written by mesh/object-store.ts, its routing kinds also listed and watched by controller/manager.ts.
    const mesh = grants(
      [{ kind: "ClusterRole", metadata: { name: "mesh" }, rules: MESH_PROVIDERS.flatMap(rbacRulesOf) }],
      ["ClusterRole"],
    );
    assert.ok(Object.keys(mesh).length >= MESH_PROVIDERS.length, "every provider needs rules");
    for (const [key, verbs] of Object.entries(mesh)) expected[key] = verbs;
    assert.deepEqual(grants(docs, ["ClusterRole"]), expected);
  });

  it("grants only the Lease verbs of kube/lease-elector.ts, only in the controller's namespace", () => {
    const roles = docs.filter((d) => d.kind === "Role");
    assert.deepEqual(
      roles.map((r) => r.metadata.namespace),
      ["vireo-system"],
    );
    // read, replace (renew, take over, release), create when missing, watch (deleted or taken under the leader).
    assert.deepEqual(grants(roles, ["Role"]), {
      "coordination.k8s.io/leases": ["create", "get", "list", "update", "watch"],
    });
  });

  it("keeps Secrets in a ClusterRole of their own, so a namespaced install can drop the cluster-wide binding", () => {
    const reader = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === "vireo-secret-reader");
    assert.deepEqual(grants(reader ? [reader] : [], ["ClusterRole"]), { "core/secrets": ["get"] });
    const others = docs.filter((d) => d.kind === "ClusterRole" && d !== reader);
    assert.ok(others.length > 0);
    assert.equal(grants(others, ["ClusterRole"])["core/secrets"], undefined);
    const binding = docs.find(
      (d) => d.kind === "ClusterRoleBinding" && d.metadata.name === "vireo-secret-reader",
    );
    assert.deepEqual(binding?.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "vireo-secret-reader",
    });
  });

  it("binds everything to the vireo ServiceAccount only", () => {
    const bindings = docs.filter((d) => d.kind.endsWith("Binding"));
    assert.ok(bindings.length >= 3);
    for (const b of bindings) {
      assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "vireo", namespace: "vireo-system" }]);
    }
  });
});

describe("deploy/rbac-namespaced-secrets.yaml", () => {
  it("binds the Secret reader in one namespace with a RoleBinding, never cluster-wide", () => {
    const docs = load("deploy/rbac-namespaced-secrets.yaml");
    assert.deepEqual(
      docs.map((d) => [d.kind, d.metadata.namespace, d.roleRef?.name]),
      [["RoleBinding", "TENANT_NAMESPACE", "vireo-secret-reader"]],
    );
    assert.deepEqual(docs[0]?.subjects, [
      { kind: "ServiceAccount", name: "vireo", namespace: "vireo-system" },
    ]);
  });
});
