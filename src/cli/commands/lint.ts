// `lint FILE`: validates Rollout manifests offline with the schema and rules the API server enforces.
import { readFileSync } from "node:fs";
import { API_VERSION, KIND } from "../../api/constants.ts";
import { MAX_ROLLOUT_NAME } from "../../api/rollout-schema.ts";
import { type SpecIssue, validateRolloutSpec } from "../../api/validate.ts";
import type { Args } from "../args.ts";
import { CliError } from "../errors.ts";

/** Problems of one document, each naming its field. */
export interface LintResult {
  /** "Rollout ns/name" or "document 2". */
  what: string;
  issues: SpecIssue[];
}

/** Lints every Rollout in a (multi-document) YAML or JSON text; other kinds are skipped. */
export async function lintText(text: string): Promise<LintResult[]> {
  const { parseAllDocuments } = await import("yaml");
  const results: LintResult[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) {
      results.push({
        what: `document ${i + 1}`,
        issues: doc.errors.map((e) => ({ path: "(yaml)", message: e.message })),
      });
      continue;
    }
    const obj = doc.toJS() as Record<string, unknown> | null;
    if (!obj || obj.kind !== KIND) continue;
    const meta = (obj.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    const what = `Rollout ${meta.namespace ? `${String(meta.namespace)}/` : ""}${String(meta.name ?? "(unnamed)")}`;
    const issues: SpecIssue[] = [];
    if (obj.apiVersion !== API_VERSION)
      issues.push({ path: "apiVersion", message: `must be ${API_VERSION}, not ${String(obj.apiVersion)}` });
    if (typeof meta.name !== "string" || meta.name === "")
      issues.push({ path: "metadata.name", message: "is required" });
    else if (meta.name.length > MAX_ROLLOUT_NAME)
      issues.push({ path: "metadata.name", message: `must be at most ${MAX_ROLLOUT_NAME} characters` });
    const v = validateRolloutSpec(obj.spec);
    if (!v.ok) issues.push(...v.issues);
    results.push({ what, issues });
  }
  return results;
}

/** `kubectl vireo lint FILE` (`-` reads stdin). Exit 1 when any Rollout is invalid. */
export async function lint(args: Args): Promise<number> {
  const file = args.positional[0];
  if (!file) throw new CliError("usage: kubectl vireo lint FILE", 2);
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const results = await lintText(text);
  if (results.length === 0) throw new CliError(`${file}: no Rollout found`);
  let bad = 0;
  for (const r of results) {
    if (r.issues.length === 0) {
      process.stdout.write(`${file}: ${r.what}: valid\n`);
      continue;
    }
    bad++;
    for (const issue of r.issues)
      process.stdout.write(`${file}: ${r.what}: ${issue.path}: ${issue.message}\n`);
  }
  return bad > 0 ? 1 : 0;
}
