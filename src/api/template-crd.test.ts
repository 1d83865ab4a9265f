import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { TEMPLATE_KINDS } from "./constants.ts";
import { undocumentedFields } from "./crd.ts";
import { renderTemplateCrdYaml, TEMPLATE_CRD_PATHS } from "./generate-crd.ts";
import { buildTemplateCrd } from "./template-crd.ts";

const root = resolve(import.meta.dirname, "../..");

describe("template CRDs", () => {
  for (const kind of TEMPLATE_KINDS) {
    it(`${kind}: the committed CRD is what npm run generate writes, and every field is documented`, () => {
      assert.equal(
        readFileSync(resolve(root, TEMPLATE_CRD_PATHS[kind]), "utf8"),
        renderTemplateCrdYaml(kind),
      );
      const crd = buildTemplateCrd(kind) as {
        spec: {
          scope: string;
          versions: { schema: { openAPIV3Schema: { properties: { spec: unknown } } } }[];
        };
      };
      assert.equal(crd.spec.scope, kind === "AnalysisTemplate" ? "Namespaced" : "Cluster");
      assert.deepEqual(undocumentedFields(crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec), []);
    });
  }
});
