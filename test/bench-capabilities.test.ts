// bench:compare's capability phase creates what a user would: each kind's Rollout passes the controller's own spec
// validation, its template the template schema, its query the tenant scope check; the table reads per step.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CapabilityResult,
  capabilityKinds,
  capabilityTable,
  PASSING_QUERY,
} from "../bench/compare/capabilities.ts";
import { scopeQuery } from "../src/analysis/promql-scope.ts";
import { AnalysisTemplateSpecSchema } from "../src/api/template-schema.ts";
import { validateRolloutSpec } from "../src/api/validate.ts";

const app = { namespace: "cap0-0", name: "app-0" };

describe("bench:compare capabilities", () => {
  it("every kind's Rollout is a valid spec, and its template and query pass the controller's checks", () => {
    const kinds = capabilityKinds("10s");
    assert.equal(kinds.length, 4);
    for (const kind of kinds) {
      const objects = kind.objects(app, "http://127.0.0.1:1");
      const rollout = objects.find((o) => o.path.endsWith("/rollouts"))?.body as { spec: unknown };
      const v = validateRolloutSpec(rollout.spec);
      assert.ok(v.ok, `${kind.name}: ${JSON.stringify(v.ok ? "" : v.issues)}`);
      for (const o of objects.filter((x) => x.path.endsWith("/analysistemplates")))
        AnalysisTemplateSpecSchema.parse((o.body as { spec: unknown }).spec);
      assert.match(kind.push(app, "2").path, new RegExp(`/namespaces/${app.namespace}/\\w+/${app.name}$`));
    }
    const rendered = PASSING_QUERY.replace("{{ target }}", app.name);
    assert.match(
      scopeQuery(rendered, { label: "namespace", namespace: app.namespace }),
      /namespace="cap0-0"/,
    );
  });

  it("reads, writes and Events per step per rollout; EndpointSlice reads and webhook calls per rollout", () => {
    const r: CapabilityResult = {
      kind: "blue/green",
      flagger: "blue/green",
      n: 10,
      completed: 10,
      steps: 1,
      seconds: 30,
      requests: {
        reads: 50,
        writes: 80,
        eventWrites: 20,
        electionReads: 0,
        electionWrites: 0,
        byVerb: {},
        writesByResource: {},
        readsByResource: { endpointslices: 30 },
        conflictsByResource: {},
      },
      endpointSliceReads: 30,
      webhookCalls: 0,
      peakRssMb: 120,
      cpuSeconds: 3,
    };
    const row = capabilityTable([r]).split("\n")[2];
    assert.equal(
      row,
      "| blue/green | 10/10 | 1 | 30.0 | 5.00 | 8.00 | 2.00 | 3.0 | 0.0 | 120 | 3.0 | blue/green |",
    );
  });
});
