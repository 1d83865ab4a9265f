// Machine-readable output (-o json|yaml) of API objects, as kubectl prints them, with nothing a terminal acts on.
import { escapeUnsafe, hasRawUnsafe } from "../api/display-text.ts";

/**
 * Serialises objects for -o json or -o yaml; a list becomes a v1 List. The data is exact, but characters a terminal
 * would act on (C1 controls, bidi overrides; C0 controls the serializers escape already) are written as escapes:
 * Events and messages may come from anyone allowed to create Events.
 */
export async function formatObjects(objects: unknown, output: "json" | "yaml"): Promise<string> {
  const doc = Array.isArray(objects) ? { apiVersion: "v1", kind: "List", items: objects } : objects;
  if (output === "json") return `${escapeUnsafe(JSON.stringify(doc, null, 2))}\n`;
  const { Document, Scalar, visit } = await import("yaml");
  const yaml = new Document(doc);
  // Only a double-quoted scalar can carry an escape; every string holding such a character becomes one.
  visit(yaml, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && hasRawUnsafe(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return escapeUnsafe(yaml.toString());
}
