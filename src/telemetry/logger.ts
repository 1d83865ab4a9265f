// pino JSON logger factory with credential redaction and per-rollout child loggers.
import type { DestinationStream, Logger, LoggerOptions } from "pino";
import { pino } from "pino";
import { sanitizeError, sanitizeErrorsDeep, sanitizeText, sanitizeUrl } from "./sanitize.ts";

export type { Logger } from "pino";
export { sanitizeError, sanitizeText, sanitizeUrl } from "./sanitize.ts";

/** Log levels accepted by {@link createLogger}. */
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  level?: LogLevel;
  /** Static fields on every line (e.g. `{ controller: "vireo" }`). */
  base?: Record<string, unknown>;
  /** Where to write; defaults to stdout (synchronous, so lines survive `process.exit`). */
  destination?: DestinationStream;
}

/** Paths whose values are credentials: replaced wholesale. */
const SECRET_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "headers.Authorization",
  "*.headers.Authorization",
  "token",
  "*.token",
  "bearerToken",
  "*.bearerToken",
  "accessToken",
  "*.accessToken",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "webhookUrl",
  "*.webhookUrl",
  "webhook",
  "*.webhook",
  "err.config",
  "err.request",
  "err.response",
];
/** Paths holding URLs: sanitized (origin + non-secret path) rather than dropped, to keep logs useful. */
const URL_PATHS = ["url", "*.url", "endpoint", "*.endpoint", "server", "*.server"];

/**
 * Creates the root logger. Errors under `err`/`error` (and nested anywhere in a payload) go through
 * {@link sanitizeError}; credential paths are censored and URL fields stripped of userinfo/query/secret segments.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? "info",
    base: options.base ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => sanitizeErrorsDeep(obj) as Record<string, unknown>,
    },
    serializers: { err: sanitizeError, error: sanitizeError },
    hooks: {
      // Messages are free text: a URL or bearer token interpolated into one is sanitized too.
      logMethod(args, method) {
        const clean = args.map((a) => (typeof a === "string" ? sanitizeText(a) : a)) as Parameters<
          typeof method
        >;
        method.apply(this, clean);
      },
    },
    redact: {
      paths: [...SECRET_PATHS, ...URL_PATHS],
      censor: (value, path) => {
        const last = path[path.length - 1] ?? "";
        if (URL_PATHS.some((p) => p === last || p.endsWith(`.${last}`)) && typeof value === "string") {
          return sanitizeUrl(value);
        }
        return "[REDACTED]";
      },
    },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
