// Snapshot tests of the `get` and `list` views for fixed statuses, with and without colours.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// Snapshots store the text as is (one line per line), so a diff of the .snapshot file reads like the output.
const ESC = String.fromCharCode(27);
const asText = { serializers: [(v: unknown) => String(v)] };

import { age, bar, latestMeasurements, renderList, renderRollout } from "./render.ts";
import {
  fixtureEvents,
  lowTrafficRollout,
  NOW,
  progressingRollout,
  rolledBackRollout,
} from "./testing/fixtures.ts";

const view = () => ({
  rollout: progressingRollout(),
  events: fixtureEvents(),
  primary: { name: "podinfo-primary", replicas: 2, ready: 2, updated: 2 },
  canary: { name: "podinfo", replicas: 2, ready: 1, updated: 2 },
});

describe("renderRollout", () => {
  it("plain text of a progressing rollout (piped output)", (t) => {
    const text = renderRollout(view(), { now: NOW, color: false }).join("\n");
    assert.ok(!text.includes(ESC), "no escape codes when piped");
    t.assert.snapshot(text, asText);
  });

  it("coloured text on a TTY differs from plain only by escapes", (t) => {
    const coloured = renderRollout(view(), { now: NOW, color: true }).join("\n");
    const plain = renderRollout(view(), { now: NOW, color: false }).join("\n");
    assert.ok(coloured.includes(`${ESC}[36mProgressing${ESC}[39m`), "phase in cyan");
    assert.ok(coloured.includes(`${ESC}[31m✖${ESC}[39m`), "failing metric marked red");
    assert.equal(coloured.replace(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), ""), plain);
    t.assert.snapshot(coloured.replaceAll(ESC, "\\e"), asText);
  });

  it("rolled back rollout", (t) => {
    const text = renderRollout({ rollout: rolledBackRollout(), events: [] }, { now: NOW, color: false }).join(
      "\n",
    );
    assert.match(text, /Phase:\s+RolledBack/);
    assert.match(text, /Step:\s+0\/4/);
    t.assert.snapshot(text, asText);
  });

  it("lists check runs, and says how to approve the approval that waits", () => {
    const rollout = progressingRollout();
    rollout.status = {
      ...rollout.status,
      checks: [
        {
          name: "smoke",
          point: "preRollout",
          kind: "webhook",
          phase: "Passed",
          attempt: 1,
          startedAt: NOW.toISOString(),
          message: "check webhook: 2xx",
        },
        {
          name: "e2e",
          point: "step",
          step: 1,
          kind: "job",
          phase: "Failed",
          attempt: 2,
          startedAt: NOW.toISOString(),
          message: "Job x failed: DeadlineExceeded",
        },
        {
          name: "gate",
          point: "prePromotion",
          kind: "approval",
          phase: "Pending",
          attempt: 1,
          startedAt: NOW.toISOString(),
        },
      ],
    };
    const text = renderRollout({ ...view(), rollout }, { now: NOW, color: false }).join("\n");
    assert.match(text, /Checks:\s+1\/3 passed/);
    assert.match(text, /✔\s+smoke\s+preRollout\s+webhook #1\s+Passed\s+check webhook: 2xx/);
    assert.match(text, /✖\s+e2e\s+step 2\s+job #2\s+Failed\s+Job x failed: DeadlineExceeded/);
    assert.match(text, /gate\s+prePromotion\s+approval #1\s+Pending\s+kubectl vireo approve podinfo gate/);
  });

  it("shows the primary's value for relative checks and the time to the next tick", () => {
    const text = renderRollout(view(), { now: NOW, color: false }).join("\n");
    assert.match(text, /latency\s+150\.25\s+ratio ≤ 1\.2 of primary\s+primary 100/);
    assert.match(text, /in step 45s · next tick in 10s/);
    assert.match(text, /primary 60%\s+canary 40%/);
    assert.match(text, /canary 1\/2 ready/);
  });
});

describe("the evidence of judge: sequential", () => {
  it("shows the bar, the requests seen of needed, the ETA and the budget left, red when the ETA is past it", () => {
    const rollout = lowTrafficRollout();
    const text = renderRollout({ rollout, events: [] }, { now: NOW, color: false }).join("\n");
    assert.match(
      text,
      /Evidence:\s+██░{18} 1,200\/~9,800 canary requests \(errors\) · ETA 1h49m: InsufficientTraffic · 38m of maxStepDuration left/,
    );
    const coloured = renderRollout({ rollout, events: [] }, { now: NOW, color: true }).join("\n");
    assert.ok(coloured.includes(`${ESC}[31mETA 1h49m: InsufficientTraffic${ESC}[39m`), "late in red");
    // Within the budget: green, no condition; from another step (or with nothing in flight): no line at all.
    const analysis = rollout.status?.analysis;
    if (analysis?.evidence)
      analysis.evidence.budgetEndsAt = new Date(NOW.getTime() + 3 * 3600_000).toISOString();
    const inTime = renderRollout({ rollout, events: [] }, { now: NOW, color: true }).join("\n");
    assert.ok(inTime.includes(`${ESC}[32mETA 1h49m${ESC}[39m · 3h of maxStepDuration left`), inTime);
    if (analysis?.evidence) analysis.evidence.step = 0;
    assert.doesNotMatch(
      renderRollout({ rollout, events: [] }, { now: NOW, color: false }).join("\n"),
      /Evidence:/,
    );
  });
});

describe("hostile text from the API server", () => {
  /** OSC window title and clipboard write, cursor movement, 8-bit CSI, a bidi override and a lone ESC. */
  const HOSTILE = `ok${ESC}]0;pwned\u0007${ESC}]52;c;ZWNobyBoaQ==${ESC}\\${ESC}[2A${ESC}[2K\u009b31mred\u202etxt.exe${ESC}`;

  it("never reaches the terminal raw, from Events, status or conditions; Events are labelled as such", () => {
    const r = progressingRollout();
    r.status = {
      ...r.status,
      message: `msg ${HOSTILE}`,
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "Progressing",
          message: `cond ${HOSTILE}`,
          lastTransitionTime: "2026-12-01T11:59:00Z",
          observedGeneration: 2,
        },
      ],
    };
    const events = [
      {
        metadata: { name: "forged" },
        type: "Normal",
        reason: `RolledBack${HOSTILE}`,
        message: `rolled back by ops ${HOSTILE}`,
        eventTime: "2026-12-01T11:59:59Z",
      },
    ];
    for (const color of [false, true]) {
      const text = renderRollout({ ...view(), rollout: r, events }, { now: NOW, color }).join("\n");
      const withoutOurColours = text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), "");
      assert.ok(!withoutOurColours.includes(ESC), withoutOurColours);
      const controls = [...withoutOurColours].filter((c) => {
        const code = c.charCodeAt(0);
        return (
          (code < 0x20 && c !== "\n") || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e)
        );
      });
      assert.deepEqual(controls, []);
      assert.match(
        withoutOurColours,
        /Events: \(as reported; anyone allowed to create Events in shop can write one/,
      );
      assert.match(withoutOurColours, /msg ok\uFFFD/);
    }
    const list = renderList([r], { now: NOW, color: false, allNamespaces: false }).join("\n");
    assert.ok(!list.includes(ESC));
  });
});

describe("renderList", () => {
  it("all namespaces", (t) => {
    const a = progressingRollout();
    (a.metadata as { creationTimestamp?: string }).creationTimestamp = "2026-12-01T11:00:00Z";
    const lines = renderList([a, rolledBackRollout()], { now: NOW, color: false, allNamespaces: true });
    assert.match(lines[0] ?? "", /^NAMESPACE\s+NAME\s+PHASE\s+WEIGHT\s+STEP/);
    assert.match(lines[1] ?? "", /^shop\s+podinfo\s+Progressing\s+40%\s+2\/4/);
    t.assert.snapshot(lines.join("\n"), asText);
  });
});

describe("helpers", () => {
  it("bar fills proportionally", () => {
    assert.equal(bar(1, 4, 8), "██░░░░░░");
    assert.equal(bar(0, 0, 4), "░░░░");
    assert.equal(bar(9, 4, 4), "████");
  });
  it("age", () => {
    assert.equal(age("2026-12-01T11:58:30Z", NOW), "1m30s");
    assert.equal(age(undefined, NOW), "-");
  });
  it("latest measurement per metric in spec order", () => {
    const latest = latestMeasurements(progressingRollout());
    assert.deepEqual(
      latest.map((m) => [m.metric, m.value]),
      [
        ["success-rate", 99.5],
        ["latency", 150.25],
      ],
    );
  });
});
