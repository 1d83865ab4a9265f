// Confines a PromQL query to one namespace, as prom-label-proxy does: every vector selector gets the namespace
// matcher. Parsed with the Prometheus project's own grammar (@prometheus-io/lezer-promql), checked again after.
import type { SyntaxNode, Tree } from "@lezer/common";
import { parser } from "@prometheus-io/lezer-promql";

/** A query that cannot be confined; the message says which selector and why, for a status condition. */
export class QueryScopeError extends Error {
  override name = "QueryScopeError";
}

/** Where the namespace is, and which one. */
export interface QueryScope {
  /** The label carrying the namespace on every series (`--query-namespace-label`, usually `namespace`). */
  label: string;
  namespace: string;
}

interface Edit {
  from: number;
  to: number;
  text: string;
}

const MAX_SHOWN = 80;

/**
 * Returns `query` with `label="namespace"` on every vector selector (bare metric names, `{…}` selectors, those in
 * range vectors, subqueries, function arguments and both sides of binary operators). Comments are dropped, so
 * the text Prometheus parses is the text checked here. A selector's own matcher on `label` is accepted only when
 * it is exactly `label="namespace"`; any other (another namespace, a regex, a negation) is refused rather than
 * replaced, so a query never silently measures something other than what its author wrote.
 *
 * @throws QueryScopeError when the query does not parse, names another namespace, or the rewrite cannot be
 *   verified (every selector carrying exactly the one matcher).
 */
export function scopeQuery(query: string, scope: QueryScope): string {
  const tree = parse(query, "the query");
  const matcher = `${scope.label}=${JSON.stringify(scope.namespace)}`;
  const edits: Edit[] = [];
  tree.iterate({
    enter: (ref) => {
      if (ref.name === "LineComment") {
        edits.push({ from: ref.from, to: ref.to, text: "" });
        return false;
      }
      if (ref.name !== "VectorSelector") return true;
      edits.push(selectorEdit(query, ref.node, scope, matcher));
      return false;
    },
  });
  let out = query;
  for (const e of edits.sort((a, b) => b.from - a.from))
    out = out.slice(0, e.from) + e.text + out.slice(e.to);
  verify(out, scope);
  return out;
}

/** The edit that gives one selector the namespace matcher. */
function selectorEdit(query: string, selector: SyntaxNode, scope: QueryScope, matcher: string): Edit {
  const matchers = selector.getChild("LabelMatchers");
  if (!matchers) return { from: selector.to, to: selector.to, text: `{${matcher}}` };
  const kept: string[] = [];
  for (let m = matchers.firstChild; m; m = m.nextSibling) {
    const text = query.slice(m.from, m.to);
    const name = labelNameOf(query, m);
    if (name !== scope.label) {
      kept.push(text);
      continue;
    }
    if (isExactly(query, m, scope.namespace)) continue;
    throw new QueryScopeError(
      `selector ${clip(query.slice(selector.from, selector.to))} has its own ${scope.label} matcher ${clip(text)}; queries are limited to ${scope.label}="${scope.namespace}" (name no other, or only that one)`,
    );
  }
  return { from: matchers.from, to: matchers.to, text: `{${[...kept, matcher].join(", ")}}` };
}

/** The label a matcher node tests (`__name__` for a quoted metric name), or undefined for other nodes. */
function labelNameOf(query: string, m: SyntaxNode): string | undefined {
  if (m.name === "UnquotedLabelMatcher") {
    const n = m.getChild("LabelName");
    return n ? query.slice(n.from, n.to) : undefined;
  }
  if (m.name === "QuotedLabelMatcher") {
    const n = m.getChild("QuotedLabelName")?.getChild("StringLiteral");
    return n ? unquote(query.slice(n.from, n.to)) : undefined;
  }
  if (m.name === "QuotedLabelName") return "__name__";
  return undefined;
}

/** True for `label="value"` (equality, a literal without escapes equal to `value`). */
function isExactly(query: string, m: SyntaxNode, value: string): boolean {
  const op = m.getChild("MatchOp");
  const lit = m.getChildren("StringLiteral").at(-1);
  if (!op?.getChild("EqlSingle") || !lit) return false;
  return unquote(query.slice(lit.from, lit.to)) === value;
}

/** A PromQL string literal's text; undefined when it holds escapes (never equal to a namespace name then). */
function unquote(literal: string): string | undefined {
  const body = literal.slice(1, -1);
  if (literal.startsWith("`")) return body;
  return body.includes("\\") ? undefined : body;
}

/** Parses with the Prometheus grammar; any syntax error is refused (the parser would otherwise recover). */
function parse(query: string, what: string): Tree {
  const tree = parser.parse(query);
  let at: number | undefined;
  tree.iterate({
    enter: (ref) => {
      if (at === undefined && ref.type.isError) at = ref.from;
      return at === undefined;
    },
  });
  if (at !== undefined || query.trim() === "") {
    throw new QueryScopeError(
      `${what} is not valid PromQL${at !== undefined ? ` (near character ${at + 1}: ${clip(query.slice(at, at + 20) || "end of query")})` : ""}`,
    );
  }
  return tree;
}

/** Checks the rewritten query: it parses, has no comment, and every selector has exactly the one matcher. */
function verify(query: string, scope: QueryScope): void {
  const tree = parse(query, "the rewritten query");
  tree.iterate({
    enter: (ref) => {
      if (ref.name === "LineComment") throw new QueryScopeError("the rewritten query still has a comment");
      if (ref.name !== "VectorSelector") return true;
      const matchers = ref.node.getChild("LabelMatchers");
      const mine = [];
      for (let m = matchers?.firstChild; m; m = m.nextSibling) {
        if (labelNameOf(query, m) === scope.label) mine.push(m);
      }
      if (mine.length !== 1 || !isExactly(query, mine[0] as SyntaxNode, scope.namespace)) {
        throw new QueryScopeError(
          `selector ${clip(query.slice(ref.from, ref.to))} could not be limited to ${scope.label}="${scope.namespace}"`,
        );
      }
      return false;
    },
  });
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > MAX_SHOWN ? `${one.slice(0, MAX_SHOWN - 1)}…` : one;
}
