// Identifies a pod template by a short, stable hash: the revision a rollout moves from and to.
import { createHash } from "node:crypto";
import { canonicalJson } from "../api/semantic-equal.ts";

export { canonicalJson };

/** The revision of a pod template: 10 hex characters of its SHA-256. */
export function templateRevision(template: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(template ?? {}))
    .digest("hex")
    .slice(0, 10);
}
