// Identifies a pod template by a short, stable hash: the revision a rollout moves from and to.
import { createHash } from "node:crypto";

/** JSON with object keys sorted, so equal templates hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The revision of a pod template: 10 hex characters of its SHA-256. */
export function templateRevision(template: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(template ?? {}))
    .digest("hex")
    .slice(0, 10);
}
