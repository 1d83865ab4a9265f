// A baseline for side-by-side benchmarks: the controller bundle of a git ref (e.g. main), built in a temporary
// worktree that shares this tree's node_modules.
import { execFileSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** Builds `ref`'s controller bundle in a worktree under `dir`; returns the bundle's path. */
export async function baselineBundle(ref: string, dir: string): Promise<string> {
  const tree = join(dir, "tree");
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", tree, ref], { stdio: "ignore" });
  symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
  const mod = (await import(join(tree, "deploy", "bundle.ts"))) as typeof import("../deploy/bundle.ts");
  // In its own tree: the bundle loads yaml (a YAML kubeconfig) from the node_modules beside it.
  return mod.bundleController();
}

/** Removes the worktree {@link baselineBundle} made under `dir`. */
export function removeBaseline(dir: string): void {
  execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", join(dir, "tree")]);
}
