// The dashboard in a real browser (Debian Chromium via playwright-core) against a real control plane with the
// controller running: the list, the live weight plot, promote as a permitted user and Forbidden for a viewer, and
// the Approve button releasing an approval gate as `kubectl vireo approve` does.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { type Simulator, startSimulator } from "./simulator/simulator.ts";
import {
  apply,
  appManifests,
  getRollout,
  setImage,
  waitForPromotion,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";
import { applyApprovalGate } from "./support/gated-app.ts";
import { type PluginProcess, readOnlyKubeconfig, startPlugin } from "./support/plugin.ts";

const ROOT = resolve(import.meta.dirname, "..");
const SCREENSHOTS = join(ROOT, "docs", "screenshots");
const NS = "dash";
// Flags that work with Debian's Chromium on these machines: no sandbox, no GPU, no background network traffic.
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let cluster: Cluster;
let controller: ControllerProcess;
let adminDash: PluginProcess;
let viewerDash: PluginProcess;
let adminUrl: string;
let viewerUrl: string;
let browser: Browser;
let simulator: Simulator;

async function startDashboardFor(kubeconfig: string): Promise<{ proc: PluginProcess; url: string }> {
  const proc = startPlugin(kubeconfig, ["dashboard", "-A"]);
  const m = await proc.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/)/);
  return { proc, url: m[1] ?? "" };
}

async function attr(page: Page, selector: string, name: string): Promise<string> {
  return (await page.getAttribute(selector, name)) ?? "";
}

describe("dashboard in Chromium", () => {
  before(async () => {
    const built = spawnSync(process.execPath, [join(ROOT, "dashboard/build.ts")], { encoding: "utf8" });
    assert.equal(built.status, 0, built.stderr);
    mkdirSync(SCREENSHOTS, { recursive: true });
    cluster = await startCluster();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [...prometheusArgs(cluster.prometheusUrl, "linkerd")],
    });
    // Real analysis (Prometheus scraping the traffic simulator), so the detail page plots metrics and thresholds.
    await apply(
      cluster,
      appManifests({
        namespace: NS,
        steps: [{ setWeight: 20 }, { pause: { duration: "6s" } }, { setWeight: 50 }, { pause: {} }],
        analysis: {
          interval: "5s",
          failureLimit: 5,
          metrics: [
            { name: "success", builtin: "request-success-rate", window: "10s", thresholdRange: { min: 95 } },
            {
              name: "latency",
              builtin: "request-duration",
              window: "10s",
              thresholdRange: { max: 1000 },
              compareToPrimary: { maxRatio: 3 },
            },
          ],
        },
      }),
    );
    await waitForRollout(cluster, NS, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    const healthy = { errorRate: 0, latencyMs: 100, jitterMs: 5 };
    simulator = await startSimulator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      service: "podinfo",
      rps: 40,
      primary: healthy,
      canary: healthy,
      pollMs: 250,
    });
    await cluster.addScrapeTarget(simulator.metricsUrl, { job: `sim-${NS}` });
    const viewer = await readOnlyKubeconfig(cluster, NS, "viewer");
    ({ proc: adminDash, url: adminUrl } = await startDashboardFor(cluster.kubeconfigPath));
    ({ proc: viewerDash, url: viewerUrl } = await startDashboardFor(viewer));
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  });
  after(async () => {
    await browser?.close();
    await adminDash?.stop();
    await viewerDash?.stop();
    await simulator?.stop();
    await controller?.stop();
    await cluster?.stop();
  });

  it("the detail page's weight plot follows the rollout live (no reload)", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
    await page.goto(`${adminUrl}rollouts/${NS}/podinfo`);
    await page.waitForSelector('[data-testid="plot-weight"][data-last="0"]');
    const pointsBefore = Number(await attr(page, '[data-testid="plot-weight"]', "data-points"));
    await setImage(cluster, NS, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    await page.waitForSelector('[data-testid="plot-weight"][data-last="20"]', { timeout: 90_000 });
    await page.waitForSelector('[data-testid="plot-weight"][data-last="50"]', { timeout: 90_000 });
    await page.waitForSelector('[data-testid="phase"]:has-text("Paused")', { timeout: 90_000 });
    // Each metric has its own plot: the bound drawn as a line, the primary as a second series for the relative check.
    const success = '[data-testid="plot-metric-success"]';
    const latency = '[data-testid="plot-metric-latency"]';
    assert.ok(
      Number(await attr(page, success, "data-points")) >= 2,
      "success rate measured at 20 % and 50 %",
    );
    assert.match(
      (await page.textContent(`${success} [data-testid="plot-metric-success-threshold"]`)) ?? "",
      /min 95/,
    );
    assert.match(
      (await page.textContent(`${latency} [data-testid="plot-metric-latency-threshold"]`)) ?? "",
      /max 1000/,
    );
    assert.match(await attr(page, `${latency} path[data-series="primary"]`, "d"), /^M[\d.]+ [\d.]+L/);
    const pointsAfter = Number(await attr(page, '[data-testid="plot-weight"]', "data-points"));
    assert.ok(pointsAfter > pointsBefore + 1, `plot points ${pointsBefore} → ${pointsAfter}`);
    const path = await attr(page, '[data-testid="plot-weight"] path[data-series="weight"]', "d");
    assert.match(path, /^M[\d.]+ [\d.]+(H[\d.]+V[\d.]+)+/, "a step line");
    assert.match((await page.textContent('[data-testid="weights"]')) ?? "", /primary 50% · canary 50%/);
    assert.match((await page.textContent('[data-testid="timeline"] li.current')) ?? "", /4\. pause/);
    assert.match((await page.textContent('[data-testid="events"]')) ?? "", /StepAdvanced/);
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-detail.png"), fullPage: true });
    await page.close();
  });

  it("the list shows the running rollout, filterable by namespace and phase", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 500 } });
    await page.goto(adminUrl);
    const row = `[data-testid="row-${NS}-podinfo"]`;
    await page.waitForSelector(row);
    assert.match((await page.textContent(row)) ?? "", /dashpodinfoPaused \(PauseStep\)50%4\/4/);
    await page.selectOption('[data-testid="filter-phase"]', "Healthy");
    assert.equal(await page.$(row), null, "filtered out by phase");
    await page.selectOption('[data-testid="filter-phase"]', "Paused");
    await page.selectOption('[data-testid="filter-namespace"]', NS);
    await page.waitForSelector(row);
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-list.png") });
    await page.close();
  });

  it("promote as a read-only user shows the API server's Forbidden and changes nothing", async () => {
    const page = await browser.newPage();
    await page.goto(`${viewerUrl}rollouts/${NS}/podinfo`);
    await page.waitForSelector('[data-testid="phase"]:has-text("Paused")');
    await page.click('[data-testid="action-promote"]');
    const alert = await page.waitForSelector('[data-testid="action-result"].error');
    const text = (await alert.textContent()) ?? "";
    assert.match(text, /forbidden: you may not patch rollouts\.vireo\.dev "podinfo" in namespace "dash"/);
    assert.match(text, /system:serviceaccount:dash:viewer.*cannot patch resource "rollouts"/);
    const r = await getRollout(cluster, NS, "podinfo");
    assert.equal(r?.metadata.annotations?.["vireo.dev/promote"], undefined);
    assert.equal(r?.status?.phase, "Paused");
    await page.close();
  });

  it("promote as a permitted user goes through the API and the page follows to Healthy", async () => {
    const page = await browser.newPage();
    await page.goto(`${adminUrl}rollouts/${NS}/podinfo`);
    await page.waitForSelector('[data-testid="phase"]:has-text("Paused")');
    await page.click('[data-testid="action-promote"]');
    const alert = await page.waitForSelector('[data-testid="action-result"].info');
    assert.match((await alert.textContent()) ?? "", /requested: vireo\.dev\/promote=\S+/);
    await page.waitForSelector('[data-testid="phase"]:has-text("Healthy")', { timeout: 90_000 });
    await page.waitForSelector('[data-testid="plot-weight"][data-last="0"]');
    const r = await getRollout(cluster, NS, "podinfo");
    assert.equal(r?.status?.phase, "Healthy");
    assert.ok(r?.status?.handledRequests?.promote, "the controller acknowledged the request");
    await page.close();
  });

  it("the Approve button releases a waiting approval check with the plugin's annotation, and the rollout promotes", async () => {
    const ns = `${NS}-approve`;
    await applyApprovalGate(cluster, ns, [{ setWeight: 20 }]);
    const page = await browser.newPage();
    await page.goto(`${adminUrl}rollouts/${ns}/podinfo`);
    await page.waitForSelector('[data-testid="phase"]:has-text("Healthy")');
    assert.equal(await page.$('[data-testid="approve-release"]'), null, "no button while nothing waits");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    // The button appears live once the check waits (the page follows the watch).
    await page.waitForSelector('[data-testid="approve-release"]', { timeout: 90_000 });
    await page.click('[data-testid="approve-release"]');
    const alert = await page.waitForSelector('[data-testid="action-result"].info');
    assert.match((await alert.textContent()) ?? "", /requested: vireo\.dev\/approve=release\/\S+/);
    const r = await waitForPromotion(cluster, ns, "promoted after the approval", 90_000);
    assert.match(r.metadata.annotations?.["vireo.dev/approve"] ?? "", /^release\/\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const run = r.status?.checks?.find((c) => c.name === "release");
    assert.equal(run?.phase, "Passed");
    // Written as the plugin writes it: its field manager, with the user's own credentials.
    // kubectl hides managedFields unless asked.
    const full = await cluster.kubectl([
      "get",
      "rollout.vireo.dev",
      "podinfo",
      "-n",
      ns,
      "-o",
      "json",
      "--show-managed-fields",
    ]);
    const fields = (JSON.parse(full.stdout).metadata?.managedFields ?? []) as { manager?: string }[];
    const managers = fields.map((f) => f.manager);
    assert.ok(managers.includes("kubectl-vireo"), `managers: ${managers}`);
    await page.waitForSelector('[data-testid="approve-release"]', { state: "detached" });
    await page.close();
  });
});
