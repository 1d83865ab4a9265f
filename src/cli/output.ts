// Machine-readable output (-o json|yaml) of API objects, as kubectl prints them.

/** Serialises objects for -o json or -o yaml; a list becomes a v1 List. */
export async function formatObjects(objects: unknown, output: "json" | "yaml"): Promise<string> {
  const doc = Array.isArray(objects) ? { apiVersion: "v1", kind: "List", items: objects } : objects;
  if (output === "json") return `${JSON.stringify(doc, null, 2)}\n`;
  const { stringify } = await import("yaml");
  return stringify(doc);
}
