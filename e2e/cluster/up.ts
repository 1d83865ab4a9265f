// `npm run cluster:up`: builds if needed, then starts a long-lived local cluster, Prometheus and a simulator.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "./cluster.ts";
import { BUILD_SCRIPT, missingBinaries, persistentClusterDir, REPO_ROOT, resolveBinaries } from "./paths.ts";
import { reapPidfiles, startProcess } from "./process.ts";
import { waitFor } from "./wait.ts";

const { values } = parseArgs({
  options: {
    namespace: { type: "string", default: "default" },
    service: { type: "string", default: "podinfo" },
    target: { type: "string" },
    rps: { type: "string", default: "20" },
    "no-simulator": { type: "boolean", default: false },
  },
});

const dir = persistentClusterDir();
if (missingBinaries(resolveBinaries(), !process.env.VIREO_KUBECONFIG, true).length > 0) {
  console.error(`[cluster:up] binaries missing, running ${BUILD_SCRIPT} (a cold build takes minutes)`);
  const build = spawnSync("bash", [BUILD_SCRIPT], { stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

try {
  const cluster = await startCluster({ dir, persistent: true });
  let simulator: { metricsUrl: string; controlUrl: string } | undefined;
  if (!values["no-simulator"]) {
    const readyFile = join(dir, "simulator.json");
    const sim = startProcess(
      "simulator",
      process.execPath,
      [
        join(REPO_ROOT, "e2e", "simulator", "main.ts"),
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--namespace=${values.namespace}`,
        `--service=${values.service}`,
        `--target=${values.target ?? values.service}`,
        `--rps=${values.rps}`,
        `--ready-file=${readyFile}`,
      ],
      { dir },
    );
    simulator = await waitFor(
      async () => JSON.parse(readFileSync(readyFile, "utf8")) as { metricsUrl: string; controlUrl: string },
      {
        what: "simulator ready file",
        timeoutMs: 15_000,
        abortIf: () => {
          if (sim.hasExited()) throw new Error(`simulator exited; see ${sim.logFile}`);
        },
      },
    );
    await cluster.addScrapeTarget(simulator.metricsUrl);
  }
  writeFileSync(join(dir, "up.json"), JSON.stringify({ ...cluster, simulator }, null, 2));
  console.log(`
Vireo e2e cluster is up (${(cluster.startup.totalMs / 1000).toFixed(1)} s), state in ${dir}
  admin kubeconfig:      ${cluster.kubeconfigPath}
  controller kubeconfig: ${cluster.controllerKubeconfigPath}  (ServiceAccount vireo-system/vireo)
  API server:            ${cluster.apiServerUrl}
  Prometheus:            ${cluster.prometheusUrl}
  kubectl 1.36:          ${cluster.binDir}/kubectl${
    simulator
      ? `
  simulator metrics:     ${simulator.metricsUrl}
  simulator control:     ${simulator.controlUrl}/weights, /stats, PUT /backends/canary {"errorRate":0.1}`
      : ""
  }
  logs:                  ${dir}/logs/

  export KUBECONFIG=${cluster.kubeconfigPath}
  export PATH=${cluster.binDir}:$PATH

Stop everything with: npm run cluster:down`);
  process.exit(0);
} catch (err) {
  await reapPidfiles(dir, 2000);
  console.error(`[cluster:up] failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
