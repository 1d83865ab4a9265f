// Idle controller: resident memory and modules loaded with nothing to reconcile, on a real control plane, for this
// checkout and (optionally) another one side by side in the same run.
//
//   node bench/controller-idle.ts                          this checkout only
//   node bench/controller-idle.ts --baseline /path/to/co   also that checkout (its node_modules, its bundle)
//   node bench/controller-idle.ts --entries bundle --formats json   only those entries / kubeconfig formats
//
// For each checkout, kubeconfig format (YAML, JSON; for this checkout also one that takes the client-node path) and
// entry (the bundle the image runs, the TypeScript sources):
// starts the controller with the ServiceAccount kubeconfig, waits for /readyz, lets it settle 10 s, then reports the
// median VmRSS of 10 samples over 5 s, VmHWM, and the modules it resolved (logged by src/cli/testing/log-imports.mjs).

import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { CONTROLLER_NODE_FLAGS } from "../deploy/bundle.ts";
import { startCluster } from "../e2e/cluster/cluster.ts";
import { freePort } from "../e2e/cluster/ports.ts";
import { superviseController } from "../e2e/support/controller-process.ts";
import { memory } from "./scale/proc-sampler.ts";

const HERE = resolve(import.meta.dirname, "..");
const HOOK = join(HERE, "src/cli/testing/log-imports.mjs");
const { values } = parseArgs({
  options: {
    baseline: { type: "string" },
    entries: { type: "string", default: "bundle,source" },
    formats: { type: "string", default: "yaml,json,client-node" },
  },
});
const entries = values.entries.split(",") as ("bundle" | "source")[];
const wanted = new Set(values.formats.split(","));
const trees = [
  { name: "this", root: HERE },
  ...(values.baseline ? [{ name: "baseline", root: resolve(values.baseline) }] : []),
];

interface Row {
  tree: string;
  format: string;
  entry: string;
  rssMb: number;
  hwmMb: number;
  modules: number;
  fileModules: number;
  clientNode: boolean;
  yaml: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 2 ** 20;

const cluster = await startCluster({ prometheus: false, nodes: 1 });
const rows: Row[] = [];
try {
  const yamlConfig = cluster.controllerKubeconfigPath;
  const jsonConfig = join(cluster.dir, "controller.kubeconfig.json");
  const doc = parse(readFileSync(yamlConfig, "utf8"));
  writeFileSync(jsonConfig, JSON.stringify(doc));
  // client-node's own `token-file` key (not kubectl's tokenFile) hands the context to client-node.
  const clientNodeConfig = join(cluster.dir, "controller-client-node.kubeconfig.json");
  const tokenFile = join(cluster.dir, "controller.token");
  writeFileSync(tokenFile, doc.users[0].user.token);
  doc.users[0].user = { "token-file": tokenFile };
  writeFileSync(clientNodeConfig, JSON.stringify(doc));
  for (const tree of trees) {
    const built = spawnSync(process.execPath, [join(tree.root, "deploy/bundle.ts")], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(`bundling ${tree.root}: ${built.stderr}`);
    const formats = [
      ["yaml", yamlConfig],
      ["json", jsonConfig],
      ...(tree.root === HERE ? [["client-node", clientNodeConfig]] : []),
    ];
    for (const [format, kubeconfig] of (formats as [string, string][]).filter(([f]) => wanted.has(f))) {
      for (const entry of entries) {
        rows.push(await measure(tree, format, kubeconfig, entry));
        const r = rows.at(-1) as Row;
        console.error(`${r.tree} ${r.format} ${r.entry}: ${r.rssMb.toFixed(1)} MiB, ${r.modules} modules`);
      }
    }
  }
} finally {
  await cluster.stop();
}

async function measure(
  tree: { name: string; root: string },
  format: string,
  kubeconfig: string,
  entry: "bundle" | "source",
): Promise<Row> {
  const port = await freePort();
  const log = join(cluster.dir, `imports-${tree.name}-${format}-${entry}.log`);
  writeFileSync(log, "");
  const main =
    entry === "bundle"
      ? [...CONTROLLER_NODE_FLAGS, join(tree.root, "dist/controller/main.mjs")]
      : [join(tree.root, "src/main.ts")];
  const child = spawn(
    process.execPath,
    [
      ...main,
      `--kubeconfig=${kubeconfig}`,
      `--metrics-port=${port}`,
      "--metrics-host=127.0.0.1",
      "--lease-namespace=vireo-system",
    ],
    {
      cwd: tree.root,
      env: {
        ...process.env,
        NODE_OPTIONS: `--import=${HOOK}`,
        VIREO_IMPORT_LOG: log,
        POD_NAME: "vireo-idle",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const controller = await superviseController(child, {
    metricsUrl: `http://127.0.0.1:${port}`,
    logPath: join(cluster.dir, `controller-${tree.name}-${format}-${entry}.log`),
    what: "controller",
    readyTimeoutMs: 60_000,
  });
  try {
    await sleep(10_000);
    const samples: number[] = [];
    let hwm = 0;
    for (let i = 0; i < 10; i++) {
      const m = memory(controller.pid);
      if (m) {
        samples.push(m.rss);
        hwm = m.hwm;
      }
      await sleep(500);
    }
    samples.sort((a, b) => a - b);
    const urls = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))];
    return {
      tree: tree.name,
      format,
      entry,
      rssMb: mb(samples[Math.floor(samples.length / 2)] ?? 0),
      hwmMb: mb(hwm),
      modules: urls.length,
      fileModules: urls.filter((u) => u.startsWith("file:")).length,
      clientNode: urls.some((u) => u.includes("@kubernetes/client-node")),
      yaml: urls.some((u) => u.includes("/node_modules/yaml/")),
    };
  } finally {
    await controller.stop();
  }
}

const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `${pad("checkout", 9)} ${pad("kubeconfig", 11)} ${pad("entry", 7)} ${pad("idle RSS MiB", 12)} ${pad("VmHWM MiB", 9)} ${pad("modules (files)", 15)} client-node yaml`,
);
for (const r of rows)
  console.log(
    `${pad(r.tree, 9)} ${pad(r.format, 11)} ${pad(r.entry, 7)} ${pad(r.rssMb.toFixed(1), 12)} ${pad(r.hwmMb.toFixed(1), 9)} ${pad(`${r.modules} (${r.fileModules})`, 15)} ${pad(r.clientNode ? "yes" : "no", 11)} ${r.yaml ? "yes" : "no"}`,
  );
if (trees.length === 2) {
  for (const format of ["yaml", "json"])
    for (const entry of ["bundle", "source"]) {
      const [a, b] = ["this", "baseline"].map((t) =>
        rows.find((r) => r.tree === t && r.format === format && r.entry === entry),
      );
      if (a && b)
        console.log(
          `${format} ${entry}: RSS this/baseline ${(a.rssMb / b.rssMb).toFixed(3)}, modules ${a.modules - b.modules >= 0 ? "+" : ""}${a.modules - b.modules}`,
        );
    }
}
