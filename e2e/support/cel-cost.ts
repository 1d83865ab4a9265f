// The API server's own estimate of a CEL rule's cost, read from its CRD validation: the rule is placed on a copy of
// its schema inside an array of `maxItems` K, so the server checks cost × K against its per-rule limit and, once
// over, reports the factor (to six decimals below 1.5×). The API server publishes no other way to read it.
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError, kubeRequest } from "../cluster/kube-request.ts";

/** kube-apiserver's limit on one rule's estimated cost × the cardinality of its schema node. */
export const RULE_COST_LIMIT = 10_000_000;

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
 * The factor by which `rule` on `schema`, repeated `cardinality` times, exceeds the per-rule limit: 0 when the API
 * server accepts it, Infinity when it says "more than 100x". Throws on any other refusal (a rule that does not
 * compile).
 */
async function overFactor(
  kc: KubeConfig,
  schema: Schema,
  rule: string,
  cardinality: number,
): Promise<number> {
  const name = `p${++seq}`;
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
                      items: { ...(withoutRules(schema) as Schema), "x-kubernetes-validations": [{ rule }] },
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
    const m = /estimated rule cost exceeds budget by factor of (more than 100x|[0-9.]+x)/.exec(e.message);
    if (!m?.[1]) throw e;
    return m[1].startsWith("more") ? Number.POSITIVE_INFINITY : Number(m[1].slice(0, -1));
  }
}

/**
 * The API server's estimated cost of `rule` evaluated on an object of `schema` (the schema node the rule sits on),
 * to about six significant digits, or Infinity when it exceeds the limit a hundredfold on its own.
 */
export async function estimatedRuleCost(kc: KubeConfig, schema: Schema, rule: string): Promise<number> {
  let k = 1;
  let f = await overFactor(kc, schema, rule, k);
  if (f === Number.POSITIVE_INFINITY) return f;
  while (f === 0) {
    k *= 10;
    f = await overFactor(kc, schema, rule, k);
  }
  // cost × k = f × limit; pick the cardinality that lands near 1.2×, where the server prints six decimals.
  const cost = (f * RULE_COST_LIMIT) / k;
  if (f < 1.5) return cost;
  const fine = Math.max(1, Math.ceil((1.2 * RULE_COST_LIMIT) / cost));
  const g = await overFactor(kc, schema, rule, fine);
  return g === 0 ? cost : (g * RULE_COST_LIMIT) / fine;
}
