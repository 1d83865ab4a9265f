// The logging surface kube/ needs; a pino Logger satisfies it, tests can pass a capturing fake.

/** Structured logger methods used by kube/ components (pino signature: object first, then message). */
export interface KubeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (default when none is injected). */
export const silentLogger: KubeLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
