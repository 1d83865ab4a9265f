// The contract for Secrets a Rollout names: how they are referenced and read, and the opt-in label they must carry.
import * as z from "zod";
import { ALLOW_REFERENCE_LABEL } from "./constants.ts";
import { objectName } from "./schema-fields.ts";

/** Reference to a key of a Secret in the Rollout's namespace. */
export const SecretKeyRefSchema = z
  .object({
    name: objectName("Name of the Secret, in the Rollout's namespace."),
    key: z.string().min(1).max(253).optional().describe("Key within the Secret."),
  })
  .describe("A Secret key reference.");

/** What the controller sees of a Secret: decoded `data` (base64 undone) and its labels. */
export interface SecretContents {
  data: Record<string, string>;
  labels: Record<string, string>;
}

/** Reads a Secret by name; undefined when it does not exist. */
export type ReadSecret = (namespace: string, name: string) => Promise<SecretContents | undefined>;

/**
 * Why a Secret a Rollout names may not be used, or undefined when it carries `vireo.dev/allow-reference: "true"`.
 * The message names the Secret and the label, never a value.
 */
export function referenceRefusal(
  namespace: string,
  name: string,
  labels: Readonly<Record<string, string>>,
): string | undefined {
  if (labels[ALLOW_REFERENCE_LABEL] === "true") return undefined;
  return `Secret ${namespace}/${name} lacks label ${ALLOW_REFERENCE_LABEL}=true (a Secret must opt in before a Rollout may use it)`;
}
