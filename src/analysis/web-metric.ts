// Measures a web metric: sends its rendered request through the controller's egress as a tenant's URL (allow-list
// first, address policy at connect time, bounded answer, no redirects) and reads the number at its JSONPath.
import { EGRESS_OUTCOMES } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import { parseJsonPath } from "../api/json-path.ts";
import type { WebMetricSpec } from "../api/web-metric-schema.ts";
import type { Egress } from "../net/egress.ts";
import { sanitizeUrl } from "../telemetry/sanitize.ts";
import { isAllowedAddress } from "./allowed-urls.ts";
import { selectNumber } from "./json-path-select.ts";
import type { Reduce } from "./reduce.ts";
import type { WebRequest } from "./web-template.ts";

/** Longest answer read: a number needs little, and a tenant's URL must not make the controller buffer much. */
export const MAX_WEB_ANSWER_BYTES = 64 * 1024;

/** A web metric that could not be measured; the message is safe for status (no answer text but an excerpt). */
export class WebMetricError extends Error {
  override name = "WebMetricError";
}

/** The surface measure.ts needs; {@link WebMetricClient} implements it, tests may fake it. */
export interface WebQuerier {
  /** The number the answer holds at `web.jsonPath`, or null for no data. */
  value(
    web: WebMetricSpec,
    request: WebRequest,
    reduce: Reduce | undefined,
    signal?: AbortSignal,
  ): Promise<number | null>;
}

/** The message for a URL outside the allow-list (also a spec issue before any traffic moves). */
export function notAllowedMessage(url: string): string {
  const shown = sanitizeUrl(url);
  return `URL not allowed by the controller's --allowed-check-urls; no request sent to ${shown.length > 100 ? `${shown.slice(0, 100)}…` : shown}`;
}

/** Web metrics through the controller's egress. */
export class WebMetricClient implements WebQuerier {
  readonly #egress: Pick<Egress, "send">;
  readonly #allowed: readonly string[];

  /**
   * @param egress the controller's egress (tenant trust: its address policy applies on every connection)
   * @param allowedUrls `--allowed-check-urls`: prefixes a web metric's URL must lie under; empty refuses all
   */
  constructor(egress: Pick<Egress, "send">, allowedUrls: readonly string[]) {
    this.#egress = egress;
    this.#allowed = allowedUrls;
  }

  /**
   * Sends `request` and reads its answer. One try per tick: a failed one is an error measurement, which
   * consecutiveErrorLimit counts.
   * @throws WebMetricError for a URL outside the allow-list (nothing sent), any answer but 2xx, an answer that is not
   *   JSON or larger than {@link MAX_WEB_ANSWER_BYTES}, and a value that is not a number.
   */
  async value(
    web: WebMetricSpec,
    request: WebRequest,
    reduce: Reduce | undefined,
    signal: AbortSignal = new AbortController().signal,
  ): Promise<number | null> {
    if (!isAllowedAddress(request.url, this.#allowed))
      throw new WebMetricError(notAllowedMessage(request.url));
    const answer = await this.#egress.send({
      url: request.url,
      method: request.method,
      headers: { Accept: "application/json", ...request.headers },
      ...(request.body !== undefined ? { body: request.body } : {}),
      signal,
      timeoutMs: parseDuration(web.timeout),
      maxBytes: MAX_WEB_ANSWER_BYTES,
      viaProxy: true,
      trust: "tenant",
    });
    if (answer.outcome !== EGRESS_OUTCOMES.ok)
      throw new WebMetricError(`web metric: ${explain(answer.outcome, answer.detail)}`);
    let doc: unknown;
    try {
      doc = JSON.parse(answer.body ?? "");
    } catch {
      throw new WebMetricError("web metric: the answer is not JSON");
    }
    try {
      return selectNumber(doc, parseJsonPath(web.jsonPath), reduce);
    } catch (err) {
      throw new WebMetricError(`web metric: ${(err as Error).message}`);
    }
  }
}

/** An outcome class in words a tenant can act on (never the destination's status code or text). */
function explain(outcome: string, detail: string | undefined): string {
  if (outcome === EGRESS_OUTCOMES.redirect) return `${outcome} (redirects are not followed)`;
  if (outcome === EGRESS_OUTCOMES.refused)
    return `${outcome} (the controller's egress policy, see --egress-allow)`;
  // axios's code for an answer over maxContentLength.
  if (outcome === EGRESS_OUTCOMES.network && detail === "ERR_BAD_RESPONSE")
    return `the answer is larger than ${MAX_WEB_ANSWER_BYTES / 1024} KiB`;
  return outcome;
}
