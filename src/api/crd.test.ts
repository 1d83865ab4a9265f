// The committed CRD and reference must match the schema, and the CRD must be one the API server accepts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { buildRolloutCrd, structuralViolations, undocumentedFields } from "./crd.ts";
import { CRD_PATH, REFERENCE_PATH, renderCrdYaml } from "./generate-crd.ts";
import { renderReference } from "./reference-doc.ts";

const root = resolve(import.meta.dirname, "../..");
type Version = {
  schema: { openAPIV3Schema: { properties: Record<string, unknown> } };
  additionalPrinterColumns: { name: string }[];
};
const version = () => (buildRolloutCrd() as { spec: { versions: Version[] } }).spec.versions[0]!;

describe("Rollout CRD", () => {
  it("the committed YAML is what `npm run generate` writes", () => {
    assert.equal(
      readFileSync(resolve(root, CRD_PATH), "utf8"),
      renderCrdYaml(),
      "run `npm run generate` and commit",
    );
  });

  it("the committed field reference is up to date", () => {
    assert.equal(
      readFileSync(resolve(root, REFERENCE_PATH), "utf8"),
      renderReference(),
      "run `npm run generate` and commit",
    );
  });

  it("is a structural schema", () => {
    assert.deepEqual(structuralViolations(version().schema.openAPIV3Schema), []);
  });

  it("the structural check catches what the API server rejects", () => {
    assert.notDeepEqual(
      structuralViolations({ type: "object", properties: { a: { anyOf: [{ type: "string" }] } } }),
      [],
    );
    assert.notDeepEqual(structuralViolations({ type: "object", properties: { a: {} } }), []);
  });

  it("describes every spec and status field", () => {
    const props = version().schema.openAPIV3Schema.properties;
    assert.deepEqual(undocumentedFields(props.spec, "spec"), []);
    assert.deepEqual(undocumentedFields(props.status, "status"), []);
  });

  it("has the status subresource, short name and printer columns", () => {
    const crd = buildRolloutCrd() as {
      spec: { names: { shortNames: string[] }; versions: (Version & { subresources: unknown })[] };
    };
    assert.deepEqual(crd.spec.names.shortNames, ["vro"]);
    assert.deepEqual(crd.spec.versions[0]!.subresources, { status: {} });
    assert.deepEqual(
      version().additionalPrinterColumns.map((c) => c.name),
      ["Phase", "Weight", "Step", "Reason", "Age"],
    );
  });

  it("carries whole-object rules: metadata.name as a label value, targetRef/service fixed while in flight", () => {
    const rules = (
      version().schema.openAPIV3Schema as unknown as { "x-kubernetes-validations": { rule: string }[] }
    )["x-kubernetes-validations"].map((r) => r.rule);
    assert.ok(rules.some((r) => r === "oldSelf.hasValue() || self.metadata.name.size() <= 63"));
    const transitions = rules.filter((r) => r.includes("oldSelf.status.phase"));
    // targetRef.name, targetRef.kind and the Service name.
    assert.equal(transitions.length, 3);
    for (const r of transitions)
      for (const p of ["Progressing", "Paused", "Promoting", "Finalizing"])
        assert.ok(r.includes(`'${p}'`), p);
  });

  it("carries CEL rules for the cross-field checks", () => {
    const yaml = renderCrdYaml();
    for (const rule of [
      "exactly one of setWeight, pause, check, setUpdated, setHeaderRoute, setMirror",
      "removes a route that no earlier step installed",
      "remove every mirror",
      "must not decrease",
      "exactly one of builtin, query or web",
      "Service names are at most 63",
      "Deployment names are at most 253",
      "whose path values are at most 1024",
    ]) {
      assert.ok(yaml.includes(rule), rule);
    }
  });
});
