// Errors the plugin prints as one clear line: API failures name the verb, resource and namespace.

/** An error whose message is meant for the user as is (no stack trace). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** What a request was trying to do, for error messages. */
export interface RequestTarget {
  verb: string;
  /** Plural resource with group, e.g. `rollouts.vireo.dev`. */
  resource: string;
  namespace?: string;
  name?: string;
}

/** A failed API request: HTTP status, the API server's Status reason and message. */
export class ApiError extends CliError {
  readonly status: number;
  readonly reason: string;
  readonly serverMessage: string;
  readonly target: RequestTarget;
  constructor(status: number, reason: string, serverMessage: string, target: RequestTarget) {
    super(describeApiError(status, reason, serverMessage, target));
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
    this.serverMessage = serverMessage;
    this.target = target;
  }
}

function where(t: RequestTarget): string {
  return t.namespace ? ` in namespace "${t.namespace}"` : " in all namespaces";
}

/** The one-line message for an API error; says which verb on which resource was refused. */
export function describeApiError(status: number, reason: string, message: string, t: RequestTarget): string {
  const what = t.name ? `${t.resource} "${t.name}"` : t.resource;
  if (status === 404) {
    if (!t.name) return `${t.resource} not found: is the Vireo CRD installed? (${message})`;
    return `${what} not found${where(t)}`;
  }
  if (status === 403) return `forbidden: you may not ${t.verb} ${what}${where(t)} (API server: ${message})`;
  if (status === 401) return `unauthorized: the API server rejected your credentials (${message})`;
  if (status === 409) return `conflict writing ${what}: ${message}`;
  if (status === 422) return `invalid ${what}: ${message}`;
  return `${t.verb} ${what}${where(t)} failed: ${status} ${reason || ""} ${message}`
    .replace(/\s+/g, " ")
    .trim();
}
