// Reads a Prometheus `/api/v1/query` answer as it streams in, bounded by bytes and by series, without holding it whole.
import { JSONParser } from "@streamparser/json";

/** Limits on one answer. The results Vireo needs are single values, so these are far above any sound query. */
export interface AnswerLimits {
  /** Most series an instant vector may have (default {@link DEFAULT_MAX_SERIES}). */
  maxSeries: number;
  /** Most bytes the (decompressed) body may have (default {@link DEFAULT_MAX_ANSWER_BYTES}). */
  maxBytes: number;
}

/**
 * A query whose series Vireo reduces to one value has no business returning thousands of them: it is a missing
 * aggregation (`sum(...)`), and parsing it would cost the controller memory and CPU per tick.
 */
export const DEFAULT_MAX_SERIES = 1000;
/** Generous for 1,000 series with Istio-sized label sets (~1.5 KiB each). */
export const DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** The parts of an answer's envelope the client reads; `result` holds at most `maxSeries` entries. */
export interface AnswerEnvelope {
  status?: unknown;
  errorType?: unknown;
  data?: { resultType?: unknown; result?: unknown[] };
}

/** Why {@link readAnswer} stopped reading: the answer broke a limit. */
export class AnswerTooLarge extends Error {
  override readonly name = "AnswerTooLarge";
}

/**
 * Parses an answer from its body chunks, keeping only the envelope fields and the elements of `data.result` (each
 * parsed on its own and the parser's copy dropped at once). Stops at the first chunk that breaks a limit — the rest
 * of the body is never read (the caller closes the connection).
 * @returns the envelope, or undefined when the body is not JSON (a proxy's HTML error page)
 * @throws AnswerTooLarge naming the limit that was hit
 */
export async function readAnswer(
  body: AsyncIterable<Uint8Array>,
  limits: AnswerLimits,
): Promise<AnswerEnvelope | undefined> {
  const envelope: AnswerEnvelope = {};
  let resultType: unknown;
  const result: unknown[] = [];
  let tooMany = false;
  const parser = new JSONParser({
    paths: ["$.status", "$.errorType", "$.data.resultType", "$.data.result.*"],
    // Emitted values are not kept in their parents: the array of series never exists in memory.
    keepStack: false,
  });
  parser.onValue = ({ value, key, stack }) => {
    if (stack.length === 1 && key === "status") envelope.status = value;
    else if (stack.length === 1 && key === "errorType") envelope.errorType = value;
    else if (stack.length === 2 && key === "resultType") resultType = value;
    else if (stack.length === 3 && typeof key === "number") {
      if (result.length >= limits.maxSeries) tooMany = true;
      else result.push(value);
    }
  };
  let bytes = 0;
  let json = true;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (bytes > limits.maxBytes) {
      throw new AnswerTooLarge(
        `Prometheus's answer is larger than ${mib(limits.maxBytes)} (the limit); a metric must come down to one value: aggregate in the query (e.g. sum(...))`,
      );
    }
    if (!json) continue;
    try {
      parser.write(chunk);
    } catch {
      json = false; // keep counting bytes; the caller reports the HTTP status
    }
    if (tooMany) {
      throw new AnswerTooLarge(
        `query returned more than ${limits.maxSeries} series (the limit); a metric must come down to one value: aggregate in the query (e.g. sum(...)) or narrow its selector`,
      );
    }
  }
  // The parser ends by itself after the top-level value; one that has not was cut short.
  if (!json || !parser.isEnded) return undefined;
  if (resultType !== undefined || result.length > 0) envelope.data = { resultType, result };
  return envelope;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${+(bytes / 1024).toFixed(1)} KiB`;
}
