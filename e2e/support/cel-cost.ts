// The API server's own estimate of a CEL rule's cost, or of a whole schema's, read from its CRD validation: the
// schema is placed inside an array of `maxItems` K, so the server checks cost × K against its limit and, once over,
// reports the factor (to six decimals below 1.5×). The API server publishes no other way to read it.
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError, kubeRequest } from "../cluster/kube-request.ts";

/** kube-apiserver's limit on one rule's estimated cost × the cardinality of its schema node. */
export const RULE_COST_LIMIT = 10_000_000;
/** kube-apiserver's limit on the sum of every rule's estimated cost × cardinality in one CRD version's schema. */
export const SCHEMA_COST_LIMIT = 100_000_000;

/** What the server's refusal says for each limit. */
const OVER = {
  rule: { limit: RULE_COST_LIMIT, says: "estimated rule cost exceeds budget by factor of " },
  schema: {
    limit: SCHEMA_COST_LIMIT,
    says: "cost total for entire OpenAPIv3 schema exceeds budget by factor of ",
  },
} as const;

type Schema = Record<string, unknown>;

/** A copy of `schema` without any CEL rule, so only the probed rule is estimated. */
function withoutRules(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRules);
  if (schema === null || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k]) => k !== "x-kubernetes-validations")
      .map(([k, v]) => [k, withoutRules(v)]),
  );
}

let seq = 0;

/**
 * The factor by which `items`, repeated `cardinality` times, exceeds the limit `over`: 0 when the API server accepts
 * it, Infinity when it says "more than 100x". Throws on any other refusal (a rule that does not compile). The array
 * is a list-map, so rules with `oldSelf` stay allowed.
 */
async function overFactor(
  kc: KubeConfig,
  items: Schema,
  cardinality: number,
  over: keyof typeof OVER,
): Promise<number> {
  const name = `p${++seq}`;
  const keyed = {
    ...items,
    required: [...((items.required as string[] | undefined) ?? []), "probeKey"],
    properties: { ...(items.properties as Schema | undefined), probeKey: { type: "string", maxLength: 1 } },
  };
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${name}s.cel-cost.vireo.dev` },
    spec: {
      group: "cel-cost.vireo.dev",
      scope: "Namespaced",
      names: { plural: `${name}s`, singular: name, kind: `P${name}`, listKind: `P${name}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: {
                  type: "object",
                  properties: {
                    items: {
                      type: "array",
                      maxItems: cardinality,
                      "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["probeKey"],
                      items: keyed,
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  try {
    await kubeRequest(kc, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?dryRun=All", crd);
    return 0;
  } catch (e) {
    if (!(e instanceof KubeApiError)) throw e;
    const at = e.message.indexOf(OVER[over].says);
    if (at < 0) throw e;
    const factor = e.message.slice(at + OVER[over].says.length).split(" ")[0] ?? "";
    return factor === "more" ? Number.POSITIVE_INFINITY : Number.parseFloat(factor);
  }
}

/** The estimate behind {@link overFactor}: cost × k = factor × limit, read where the server prints six decimals. */
async function estimate(kc: KubeConfig, items: Schema, over: keyof typeof OVER): Promise<number> {
  const { limit } = OVER[over];
  let k = 1;
  let f = await overFactor(kc, items, k, over);
  if (f === Number.POSITIVE_INFINITY) return f;
  while (f === 0) {
    k *= 10;
    f = await overFactor(kc, items, k, over);
  }
  const cost = (f * limit) / k;
  if (f < 1.5) return cost;
  const fine = Math.max(1, Math.ceil((1.2 * limit) / cost));
  const g = await overFactor(kc, items, fine, over);
  return g === 0 ? cost : (g * limit) / fine;
}

/**
 * The API server's estimated cost of `rule` evaluated on an object of `schema` (the schema node the rule sits on),
 * to about six significant digits, or Infinity when it exceeds {@link RULE_COST_LIMIT} a hundredfold on its own.
 */
export function estimatedRuleCost(kc: KubeConfig, schema: Schema, rule: string): Promise<number> {
  return estimate(
    kc,
    { ...(withoutRules(schema) as Schema), "x-kubernetes-validations": [{ rule }] },
    "rule",
  );
}

/**
 * The API server's estimated total of every rule in `schema` (a CRD version's openAPIV3Schema), to six digits. At
 * the root the server types `metadata.name` and `generateName` as strings itself; the copy in the array spells that.
 */
export function estimatedSchemaCost(kc: KubeConfig, schema: Schema): Promise<number> {
  const string = { type: "string" };
  const metadata = { type: "object", properties: { name: string, generateName: string } };
  return estimate(kc, { ...schema, properties: { ...(schema.properties as Schema), metadata } }, "schema");
}
