import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LABELS } from "../api/constants.ts";
import { managedLabels, type ObjectMeta, type OwnerRef } from "../api/object-meta.ts";
import type { Claim } from "../api/rollout-schema.ts";
import {
  claimLabelled,
  claimsOf,
  foreignClaimants,
  handBackPlan,
  handedBack,
  leftovers,
  ownershipConflicts,
  unrecordedClaims,
} from "./claims.ts";
import { ORIGINAL_SELECTOR_ANNOTATION, type WorkloadNames, workloadNames } from "./names.ts";
import type { Deployment, Service } from "./objects.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

const NS = "shop";
const OWNER: OwnerRef = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "web", uid: "uid-web" };
const names = (target = "web", service?: string): WorkloadNames =>
  workloadNames(NS, "web", {
    targetRef: { name: target },
    service: { port: 80, ...(service ? { name: service } : {}) },
    strategy: { canary: {} },
  } as never);

const deployment = (name: string, meta: Partial<ObjectMeta> = {}, app = name): Deployment => ({
  metadata: { name, namespace: NS, uid: `uid-${name}`, ...meta },
  spec: { selector: { matchLabels: { app } }, template: { metadata: { labels: { app } } } },
});
const service = (
  name: string,
  meta: Partial<ObjectMeta> = {},
  selector: Record<string, string> = { app: "web" },
): Service => ({
  metadata: { name, namespace: NS, uid: `uid-${name}`, ...meta },
  spec: { selector },
});
const ours = (role: "primary" | "canary") => ({
  labels: managedLabels("web", role),
  ownerReferences: [{ ...OWNER, controller: true }],
});
const snapshot = (n: WorkloadNames, o: Partial<WorkloadSnapshot>): WorkloadSnapshot => ({
  names: n,
  target: undefined,
  primary: undefined,
  rootService: undefined,
  primaryService: undefined,
  canaryService: undefined,
  ...o,
});

describe("ownershipConflicts", () => {
  it("refuses another Rollout's primary as a target, and its backend Service as a root, naming that Rollout", () => {
    const n = names("podinfo-primary");
    const s = snapshot(n, {
      target: deployment("podinfo-primary", {
        labels: managedLabels("podinfo", "primary"),
        ownerReferences: [
          { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "podinfo", uid: "u", controller: true },
        ],
      }),
      rootService: service("podinfo-primary", { labels: managedLabels("podinfo", "primary") }),
    });
    const conflicts = ownershipConflicts(s, OWNER, new Set());
    assert.equal(conflicts.length, 2);
    assert.match(
      conflicts[0] ?? "",
      /Deployment shop\/podinfo-primary \(spec.targetRef\) was created by Vireo for Rollout podinfo/,
    );
    assert.match(
      conflicts[1] ?? "",
      /Service shop\/podinfo-primary \(the root Service\) was created by Vireo for Rollout podinfo/,
    );
  });

  it("refuses a target or root another living Rollout claims; a claim by a Rollout that is gone is stale", () => {
    const n = names("api");
    const s = snapshot(n, {
      target: deployment("api", { labels: { [LABELS.rollout]: "first" } }),
      rootService: service("api", { labels: { [LABELS.rollout]: "first" } }),
    });
    assert.deepEqual(foreignClaimants(s, "web"), ["first"]);
    const live = ownershipConflicts(s, OWNER, new Set(["first"]));
    assert.equal(live.length, 2);
    assert.match(live[0] ?? "", /Deployment shop\/api \(spec.targetRef\) is managed by Rollout first/);
    assert.deepEqual(ownershipConflicts(s, OWNER, new Set()), []);
  });

  it("never adopts an existing <service>-primary or -canary that is not its own, saying whose it is", () => {
    const n = names("web", "db");
    const s = snapshot(n, {
      target: deployment("web"),
      rootService: service("db"),
      primaryService: service("db-primary"),
      canaryService: service("db-canary", { labels: { [LABELS.rollout]: "other" } }),
    });
    const conflicts = ownershipConflicts(s, OWNER, new Set());
    assert.equal(conflicts.length, 2);
    assert.match(
      conflicts[0] ?? "",
      /Service shop\/db-primary exists and is not this Rollout's \(Vireo did not create it\)/,
    );
    assert.match(conflicts[1] ?? "", /Service shop\/db-canary .*\(it belongs to Rollout other\)/);
  });

  it("keeps its own objects: by owner uid, or by its labels when the owner reference is gone (--cascade=orphan)", () => {
    const n = names();
    const orphan = { labels: managedLabels("web", "canary") };
    const s = snapshot(n, {
      target: deployment("web", { labels: { [LABELS.rollout]: "web" } }),
      primary: deployment("web-primary", ours("primary")),
      rootService: service("web"),
      primaryService: service("web-primary", ours("primary")),
      canaryService: service("web-canary", orphan),
    });
    assert.deepEqual(ownershipConflicts(s, OWNER, new Set()), []);
    // The same names under an earlier Rollout of the same name (not yet garbage-collected): not this one's.
    const earlier = { ...ours("primary"), ownerReferences: [{ ...OWNER, uid: "uid-old", controller: true }] };
    const conflicts = ownershipConflicts(
      { ...s, primary: deployment("web-primary", earlier) },
      OWNER,
      new Set(),
    );
    assert.match(conflicts[0] ?? "", /an earlier Rollout web \(uid uid-old\)/);
  });
});

describe("claims", () => {
  it("records a root's selector from before Vireo only when it was not the target's pods, and never re-derives it", () => {
    const n = names();
    const target = deployment("web");
    const own = snapshot(n, { target, rootService: service("web", {}, { app: "web" }) });
    assert.equal(claimsOf(own, [])[1]?.selector, undefined, "the target's pods: resolved at hand-back");
    const repointed = snapshot(n, { target, rootService: service("web", {}, { app: "web-primary" }) });
    assert.equal(claimsOf(repointed, [])[1]?.selector, undefined);
    const other = snapshot(n, { target, rootService: service("web", {}, { app: "web", tier: "front" }) });
    assert.deepEqual(claimsOf(other, [])[1]?.selector, { app: "web", tier: "front" });
    const annotated = snapshot(n, {
      target,
      rootService: service("web", { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: '{"app":"legacy"}' } }),
    });
    assert.deepEqual(claimsOf(annotated, [])[1]?.selector, { app: "legacy" });
    // Once recorded (with or without a selector), what was recorded stands for the same object.
    const recorded: Claim[] = [{ kind: "Service", name: "web", uid: "uid-web" }];
    assert.equal(claimsOf(annotated, recorded)[1]?.selector, undefined);
    // A new object of the same name (another uid) is not the one recorded.
    assert.deepEqual(claimsOf(annotated, [{ ...recorded[0]!, uid: "other" }])[1]?.selector, {
      app: "legacy",
    });
    assert.equal(claimLabelled(own, "web"), false);
  });

  it("a hand-back is complete when each object is gone, replaced, or unlabelled, and nothing Vireo made remains", () => {
    const claim: Claim = { kind: "Deployment", name: "a", uid: "uid-a" };
    const labelled = deployment("a", { labels: { [LABELS.rollout]: "web" } });
    assert.equal(handedBack([claim], [labelled], "web"), false);
    assert.equal(handedBack([claim], [deployment("a")], "web"), true);
    assert.equal(handedBack([claim], [undefined], "web"), true);
    assert.equal(
      handedBack([claim], [{ ...labelled, metadata: { ...labelled.metadata, uid: "x" } }], "web"),
      true,
    );
    const old = snapshot(names("a"), { primary: deployment("a-primary", ours("primary")) });
    assert.deepEqual(
      leftovers(old, OWNER, names("b")).map((o) => o.metadata.name),
      ["a-primary"],
    );
    assert.deepEqual(leftovers(old, OWNER, names("a")), [], "a name the spec still uses is kept");
  });

  it("plans a rename's hand-back so the root keeps serving: a renamed target hands its root the recorded selector", () => {
    const recorded: Claim[] = [
      { kind: "Deployment", name: "a", uid: "uid-a" },
      { kind: "Service", name: "web", uid: "uid-web" },
    ];
    const targetRenamed = handBackPlan([recorded[0]!], recorded, names("b", "web"));
    assert.equal(targetRenamed.names.target, "a");
    assert.equal(targetRenamed.names.primary, "a-primary");
    assert.equal(
      targetRenamed.root?.name,
      "web",
      "the root still named gets the old target's pods meanwhile",
    );
    assert.deepEqual(targetRenamed.release, { target: true, root: false });
    const rootRenamed = handBackPlan([recorded[1]!], recorded, names("a", "web2"));
    assert.equal(rootRenamed.names.rootService, "web");
    assert.equal(rootRenamed.names.primaryService, "web-primary");
    assert.equal(rootRenamed.target?.name, "a", "the target still named is restored to serve the old root");
    assert.deepEqual(rootRenamed.release, { target: false, root: true });
  });

  it("without a record, hands back only what its label or its own objects prove it took over", () => {
    const n = names();
    // From before claims: an unlabelled target beside this Rollout's primary, a root with the old annotation.
    const legacy = snapshot(n, {
      target: deployment("web"),
      primary: deployment("web-primary", ours("primary")),
      rootService: service("web", { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: '{"app":"web"}' } }),
    });
    assert.deepEqual(
      unrecordedClaims(legacy, OWNER, false).map((c) => c.name),
      ["web", "web"],
    );
    // A refused Rollout pointed at someone else's objects took over nothing.
    const refused = snapshot(names("podinfo-primary"), {
      target: deployment("podinfo-primary", { labels: managedLabels("podinfo", "primary") }),
      rootService: service("podinfo-primary", { labels: managedLabels("podinfo", "primary") }),
    });
    assert.deepEqual(unrecordedClaims(refused, OWNER, false), []);
    const db = snapshot(names("web", "db"), { target: deployment("web"), rootService: service("db") });
    assert.deepEqual(unrecordedClaims(db, OWNER, false), []);
    // With a record, only objects carrying the label are added (a crash between labelling and the status write).
    const labelled = snapshot(n, { target: deployment("web", { labels: { [LABELS.rollout]: "web" } }) });
    assert.deepEqual(
      unrecordedClaims(labelled, OWNER, true).map((c) => c.kind),
      ["Deployment"],
    );
  });
});
