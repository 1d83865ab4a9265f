// Scale benchmark: N Rollouts on a local control plane with kwok pods, one new revision pushed to all at once,
// measured until every one is promoted. `npm run bench -- --sizes 100,500 --qps 1000`; `--help` for options.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../src/api/duration.ts";
import { publish } from "./publish.ts";
import { details, markdownTable, plainTable, verdicts } from "./scale/report.ts";
import { type RunResult, runSize } from "./scale/run-size.ts";

const USAGE = `npm run bench -- [options]

  --sizes LIST          Rollout counts to run, e.g. 100,500,1000 (env VIREO_BENCH_SIZES; default 100,500,1000)
  --pause DUR           pause after each of the 5 setWeight stages (default 10s); ideal rollout = 5 × pause
  --qps LIST            controller --kube-qps per run, e.g. 50,1000; "default" = the controller's 50/100
                        (env VIREO_BENCH_QPS; default 1000). Each size runs once per value.
  --burst N             controller --kube-burst with an explicit --qps (default 2 × qps)
  --workers N           controller --workers (default 4, the controller's default)
  --per-namespace N     Rollouts per namespace (default 10)
  --rollout-timeout DUR budget for one measured rollout (default: 3 × ideal + 0.5 s per Rollout, at least 5m)
  --setup-timeout DUR   budget for creating and adopting the apps (default: 2m + 0.5 s per Rollout)
  --max-total DUR       stop starting new runs after this much time (default 30m)
  --log-level LEVEL     controller log level (default info; debug costs CPU at N=1000)
  --node-flags LIST     Node flags for the controller bundle, variants separated by ";": "image" = the image's
                        ENTRYPOINT flags (deploy/bundle.ts; the default), "none" = V8's defaults, else the flags,
                        e.g. "--node-flags=none;image;--max-semi-space-size=4" (with "=", as the value may start
                        with a dash). A word NAME=value sets the controller's environment instead, e.g.
                        "--node-flags=image;MALLOC_ARENA_MAX=2 --max-semi-space-size=8". Each size runs once
                        per variant.
  --bundle PATH         run this controller bundle instead of the current sources' (a baseline's; build it with
                        \`node deploy/bundle.ts PATH\` in the baseline's checkout)
  --heap-snapshots DIR  write V8 heap snapshots of the controller into DIR: settled (N Healthy) and after the
                        rollout (the run's peak RSS then includes the snapshot's own memory)
  --json PATH           also write the raw results as JSON
  --write               also publish the results: the "scale" section of docs/benchmarks/latest.md, and
                        appended to docs/benchmarks/history.md

Each run starts a fresh cluster (kube-apiserver, etcd, KCM, scheduler, kwok), so runs do not share state.
VIREO_E2E_KEEP=1 keeps each cluster dir (controller and component logs) for inspection.`;

function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string" },
      pause: { type: "string", default: "10s" },
      qps: { type: "string" },
      burst: { type: "string" },
      workers: { type: "string", default: "4" },
      "per-namespace": { type: "string", default: "10" },
      "rollout-timeout": { type: "string" },
      "setup-timeout": { type: "string" },
      "max-total": { type: "string", default: "30m" },
      "log-level": { type: "string", default: "info" },
      "node-flags": { type: "string", default: "image" },
      bundle: { type: "string" },
      "heap-snapshots": { type: "string" },
      json: { type: "string" },
      write: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const sizes = list(values.sizes ?? process.env.VIREO_BENCH_SIZES ?? "100,500,1000").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes: bad list ${values.sizes}`);
  const qpsList = list(values.qps ?? process.env.VIREO_BENCH_QPS ?? "1000").map((q) =>
    q === "default" ? undefined : Number(q),
  );
  if (qpsList.some((q) => q !== undefined && !(q > 0))) throw new Error(`--qps: bad list ${values.qps}`);
  const pauseMs = parseDuration(values.pause);
  const idealMs = 5 * pauseMs;
  const maxTotalMs = parseDuration(values["max-total"]);
  const started = Date.now();
  const load0 = loadavg();
  const log = (line: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

  if (values["heap-snapshots"]) mkdirSync(values["heap-snapshots"], { recursive: true });
  const results: RunResult[] = [];
  const skipped: string[] = [];
  const flagVariants = values["node-flags"]
    .split(";")
    .map((v) => v.trim())
    .map((v) => {
      if (v === "image") return { flags: undefined, env: {} };
      const words = v === "none" ? [] : v.split(/\s+/).filter(Boolean);
      const env = Object.fromEntries(
        words
          .filter((w) => /^[A-Z][A-Z0-9_]*=/.test(w))
          .map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]),
      );
      const flags = words.filter((w) => !/^[A-Z][A-Z0-9_]*=/.test(w));
      // Only environment words: the image's flags with that environment.
      return { flags: v !== "none" && flags.length === 0 ? undefined : flags, env };
    });
  for (const n of sizes) {
    for (const [qps, variant] of qpsList.flatMap((q) => flagVariants.map((f) => [q, f] as const))) {
      const nodeFlags = variant.flags;
      const envWords = Object.entries(variant.env).map(([k, v]) => `${k}=${v} `);
      const label = `N=${n} qps=${qps ?? "default"} node flags=${envWords.join("")}${nodeFlags?.join(" ") ?? "image"}`;
      if (Date.now() - started > maxTotalMs) {
        skipped.push(`${label}: not started, --max-total ${values["max-total"]} reached`);
        continue;
      }
      log(`=== ${label}: ${n} Rollouts × 5 stages × ${values.pause} (ideal ${idealMs / 1000} s)`);
      try {
        const r = await runSize({
          n,
          pause: values.pause,
          qps,
          burst: qps === undefined ? undefined : values.burst ? Number(values.burst) : Math.ceil(2 * qps),
          workers: Number(values.workers),
          perNamespace: Number(values["per-namespace"]),
          setupTimeoutMs: values["setup-timeout"]
            ? parseDuration(values["setup-timeout"])
            : 120_000 + 500 * n,
          rolloutTimeoutMs: values["rollout-timeout"]
            ? parseDuration(values["rollout-timeout"])
            : Math.max(300_000, 3 * idealMs + 500 * n),
          logLevel: values["log-level"],
          nodeFlags,
          env: variant.env,
          ...(values.bundle ? { bundlePath: values.bundle } : {}),
          ...(values["heap-snapshots"] ? { heapSnapshotDir: resolve(values["heap-snapshots"]) } : {}),
          log,
        });
        results.push(r);
        log(details(r));
      } catch (err) {
        const msg = (err as Error)?.message ?? String(err);
        skipped.push(`${label}: failed: ${msg}`);
        log(`${label} failed: ${msg}`);
      }
    }
  }

  console.log(`\nVireo scale benchmark — ${new Date().toISOString()}, ${osSummary()}`);
  const setting =
    `Each Rollout: 1-replica Deployment, provider smi, steps setWeight 20/40/60/80/100 each followed by ` +
    `pause ${values.pause}, no analysis metrics; ideal = 5 × ${values.pause}. Controller: ${values.workers} ` +
    `workers, kube QPS/burst as in the table; a fresh cluster per run on the same cores.`;
  console.log(`${setting}\n`);
  if (results.length > 0) {
    console.log(plainTable(results));
    console.log("\nTargets:");
    for (const v of verdicts(results)) console.log(`  ${v}`);
    console.log("\nDetails:");
    for (const r of results) console.log(details(r));
    console.log("\nMarkdown:\n");
    console.log(markdownTable(results));
  }
  for (const s of skipped) console.log(`\nNOT MEASURED ${s}`);
  if (values.write)
    publish({
      id: "scale",
      title: "Scale",
      command: ["npm run bench --", ...process.argv.slice(2)].join(" "),
      load0,
      body: [
        setting,
        "",
        results.length > 0 ? markdownTable(results) : "No run completed.",
        "",
        ...verdicts(results).map((v) => `- ${v}`),
        ...skipped.map((s) => `- NOT MEASURED ${s}`),
      ].join("\n"),
    });
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  log(`done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  return results.length > 0 && skipped.length === 0 ? 0 : 1;
}

function osSummary(): string {
  const cpus = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return `${cpus ?? "?"} CPUs, Node ${process.versions.node}`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? err}\n`);
    process.exit(2);
  },
);
