// deploy/monitoring: the alert rules pass `promtool check rules` and their unit tests (`promtool test rules`), the
// PrometheusRule carries the same groups, and the rules and the Grafana dashboard name only metrics Vireo exports.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { VireoMetrics } from "../src/telemetry/metrics.ts";

const DIR = join(import.meta.dirname, "..", "deploy", "monitoring");
const RULES = join(DIR, "vireo.rules.yaml");

/** promtool from Debian's prometheus package, which npm test's pretest (e2e/cluster/build-test-tools.sh) installs. */
function promtool(args: string[]): string {
  return execFileSync("promtool", args, { cwd: DIR, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Every series name the controller's registry exposes (histograms as _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new VireoMetrics();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}

/** Metric names used in PromQL: identifiers of Vireo's and the Node process collectors' families. */
function referenced(expr: string): string[] {
  return [...expr.matchAll(/\b((?:vireo|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1] ?? "");
}

interface Group {
  name: string;
  rules: { alert: string; expr: string }[];
}

describe("deploy/monitoring", () => {
  const rules = parse(readFileSync(RULES, "utf8")) as { groups: Group[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));

  it("promtool check rules accepts the rule file", () => {
    assert.match(promtool(["check", "rules", RULES]), new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it("promtool test rules: every alert has a unit test and all pass", () => {
    assert.match(promtool(["test", "rules", "vireo.rules.test.yaml"]), /SUCCESS/);
    const tests = parse(readFileSync(join(DIR, "vireo.rules.test.yaml"), "utf8")) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    assert.deepEqual(
      alerts.filter((a) => !fired.has(a)),
      [],
      "alerts never shown firing in a test",
    );
  });

  it("covers what the issue asks: failed, stuck, analysis erroring, notifications pending, no leader", () => {
    for (const a of [
      "VireoRolloutFailed",
      "VireoRolloutStuck",
      "VireoAnalysisErroring",
      "VireoNotificationsPending",
      "VireoNoLeader",
    ])
      assert.ok(alerts.includes(a), a);
  });

  it("the PrometheusRule carries exactly the rule file's groups", () => {
    const pr = parse(readFileSync(join(DIR, "prometheusrule.yaml"), "utf8")) as {
      apiVersion: string;
      kind: string;
      spec: { groups: Group[] };
    };
    assert.equal(pr.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(pr.kind, "PrometheusRule");
    assert.deepEqual(pr.spec.groups, rules.groups);
  });

  it("alerts name only metrics the controller exports", async () => {
    const names = await exportedNames();
    const used = rules.groups.flatMap((g) => g.rules.flatMap((r) => referenced(r.expr)));
    assert.ok(used.length >= alerts.length);
    assert.deepEqual(
      used.filter((n) => !names.has(n)),
      [],
    );
  });

  it("the Grafana dashboard parses, has a query per panel and names only exported metrics", async () => {
    const dash = JSON.parse(readFileSync(join(DIR, "grafana-dashboard.json"), "utf8")) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    assert.equal(dash.uid, "vireo-controller");
    assert.ok(dash.panels.length >= 10);
    const names = await exportedNames();
    const used = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(p.targets.length > 0, `${p.title} has no query`);
      for (const t of p.targets) for (const n of referenced(t.expr)) used.add(n);
    }
    assert.deepEqual(
      [...used].filter((n) => !names.has(n)),
      [],
    );
    // Every Vireo family appears somewhere on the dashboard.
    const families = [...names].filter((n) => n.startsWith("vireo_") && !/_(bucket|sum|count)$/.test(n));
    const shown = [...used].map((n) => n.replace(/_(bucket|sum|count)$/, ""));
    assert.deepEqual(
      families.filter((f) => !shown.includes(f)),
      [],
    );
  });
});
