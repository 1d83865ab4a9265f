// Request guards of the dashboard: Host (DNS rebinding), Origin and CSRF token on writes.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Hosts a browser may use to reach the dashboard on `port`. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

/**
 * True when the Host header names the loopback listener. A page on another site that re-resolves its own name to
 * 127.0.0.1 (DNS rebinding) sends its own name as Host, so it cannot read anything through the user's credentials.
 */
export function hostAllowed(req: IncomingMessage, port: number): boolean {
  return allowedHosts(port).has(req.headers.host ?? "");
}

/** Why a write request is refused, or undefined when it may proceed. */
export function writeRefusal(req: IncomingMessage, port: number, token: string): string | undefined {
  const origin = req.headers.origin;
  // Browsers send Origin on every cross-origin and same-origin POST; a write without it is not from our page.
  if (!origin) return "missing Origin header";
  let host: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== "http:") return `origin ${origin} not allowed`;
    host = u.host;
  } catch {
    return `origin ${origin} not allowed`;
  }
  if (!allowedHosts(port).has(host)) return `origin ${origin} not allowed`;
  const sent = req.headers["x-csrf-token"];
  if (typeof sent !== "string" || !sameSecret(sent, token)) return "missing or wrong CSRF token";
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
