// The import rules of src/: every import runs down the layers declared here (or stays in its own room), and no file
// reaches itself again through its imports.
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

/**
 * The layers of `src/`, ground first, each a few named rooms. A room is some folders, files or file-name prefixes;
 * a file belongs to the room of the longest path that starts it. A file may import its own room and any room of a
 * lower layer. Rooms of one layer stand side by side: they never import each other, so each can change without the
 * others noticing.
 */
export const LAYERS: readonly Readonly<Record<string, readonly string[]>>[] = [
  // Wire types: the Rollout schema, constants (provider names among them), durations. Imports nothing of Vireo's.
  { api: ["src/api/"] },
  // The Kubernetes client: request pipeline, informers, work queue, elector, event recorder, errors. Beside it, the
  // egress every request to a URL a tenant names goes through (address policy, outcome classes).
  { kube: ["src/kube/"], net: ["src/net/"] },
  // Metrics, logs, the health server; implements kube's ports (work-queue metrics).
  { telemetry: ["src/telemetry/"] },
  // The pure statistical judges of analysis: verdicts from measurements, no I/O.
  {
    judges: [
      "src/analysis/judge-",
      "src/analysis/special-functions.ts",
      "src/analysis/types.ts",
      "src/analysis/verdict.ts",
    ],
  },
  // The pure engine: decide() and its rules.
  { engine: ["src/rollout/"] },
  // Adapters, one per outside system: Prometheus (the rest of analysis/), meshes, workloads, notifiers.
  {
    prometheus: ["src/analysis/"],
    mesh: ["src/mesh/"],
    workload: ["src/workload/"],
    notify: ["src/notify/"],
    loadgen: ["src/loadgen/"],
  },
  // Orchestration: the reconciler and its helpers, the kubectl plugin, the controller's configuration.
  { controller: ["src/controller/"], cli: ["src/cli/"], config: ["src/config.ts"] },
  // The composition root: the only place that constructs things.
  { main: ["src/main.ts"] },
];

const root = resolve(import.meta.dirname, "..");

/** The room of `file` and its layer's index, or undefined for a file no room holds. */
function roomOf(file: string): { room: string; layer: number } | undefined {
  let best: { room: string; layer: number; path: string } | undefined;
  LAYERS.forEach((rooms, layer) => {
    for (const [room, paths] of Object.entries(rooms)) {
      for (const path of paths) {
        if (file.startsWith(path) && path.length > (best?.path.length ?? 0)) best = { room, layer, path };
      }
    }
  });
  return best && { room: best.room, layer: best.layer };
}

/**
 * Every non-test file of src/ with the src/ files it imports: `import … from`, `export … from`, `import type`,
 * side-effect and dynamic imports alike (the compiler's own scanner, so comments and strings never count).
 */
function importGraph(): Map<string, string[]> {
  const files = globSync("src/**/*.ts", { cwd: root })
    .filter((f) => !f.endsWith(".test.ts"))
    .map((f) => f.split("\\").join("/"))
    .sort();
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const scanned = ts.preProcessFile(readFileSync(resolve(root, file), "utf8"), true, true);
    const targets = scanned.importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) =>
        relative(root, resolve(root, dirname(file), name))
          .split("\\")
          .join("/"),
      );
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The import cycles of `graph`: its strongly connected components with more than one file, or a self-import. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep chain of imports cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { file: string; edge: number }[] = [{ file: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.file) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!;
        if (!graph.has(to)) continue;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ file: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.file, Math.min(low.get(frame.file)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.file, Math.min(low.get(parent.file)!, low.get(frame.file)!));
      if (low.get(frame.file) !== index.get(frame.file)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.file);
      if (component.length > 1 || edges.includes(frame.file)) found.push(component.sort());
    }
  }
  return found;
}

/** Every import that leaves its room for a room that is not on a lower layer, as `from -> to (why)`. */
function layerBreaks(graph: ReadonlyMap<string, readonly string[]>): Map<string, string> {
  const breaks = new Map<string, string>();
  for (const [from, targets] of graph) {
    const a = roomOf(from);
    for (const to of targets) {
      const b = roomOf(to);
      if (!a || !b || a.room === b.room || b.layer < a.layer) continue;
      const why =
        b.layer === a.layer
          ? `${a.room} and ${b.room} stand side by side on layer ${a.layer + 1}`
          : `${a.room} (layer ${a.layer + 1}) is below ${b.room} (layer ${b.layer + 1})`;
      breaks.set(`${from} -> ${to}`, why);
    }
  }
  return breaks;
}

describe("the import rules of src/", () => {
  const graph = importGraph();

  it("reads the whole of src/ and resolves every relative import to a file", () => {
    assert.ok(graph.size > 100, `only ${graph.size} files read`);
    const dangling = [...graph].flatMap(([from, targets]) =>
      targets.filter((t) => !existsSync(resolve(root, t))).map((t) => `${from} -> ${t}`),
    );
    assert.deepEqual(dangling, []);
  });

  it("has no import cycle", () => {
    const found = cycles(graph).map((c) => `${c.length} files: ${c.join(", ")}`);
    assert.deepEqual(found, [], `import cycles:\n${found.join("\n")}`);
  });

  it("puts every file of src/ in a room of the layers", () => {
    const homeless = [...graph.keys()].filter((f) => roomOf(f) === undefined);
    assert.deepEqual(homeless, [], "add the new folder or file to LAYERS, on the layer it belongs to");
  });

  it("imports only down the layers, never up or sideways", () => {
    const breaks = [...layerBreaks(graph)].map(([edge, why]) => `${edge}: ${why}`);
    assert.deepEqual(breaks, [], `imports against the layers:\n${breaks.join("\n")}`);
  });

  it("finds a cycle and an upward import when there is one (the checks can fail)", () => {
    const circle = new Map([
      ["src/api/rollout-schema.ts", ["src/mesh/registry.ts"]],
      ["src/mesh/registry.ts", ["src/mesh/istio-provider.ts"]],
      ["src/mesh/istio-provider.ts", ["src/rollout/types.ts"]],
      ["src/rollout/types.ts", ["src/api/rollout-schema.ts"]],
    ]);
    assert.equal(cycles(circle).length, 1);
    assert.deepEqual([...layerBreaks(circle).keys()], ["src/api/rollout-schema.ts -> src/mesh/registry.ts"]);
    assert.deepEqual(cycles(new Map([["src/a.ts", ["src/a.ts"]]])), [["src/a.ts"]]);
  });
});
