// Browser side of the dashboard API: JSON reads, SSE subscriptions and guarded writes. Everything read is passed
// through displaySafe: Events can be written by anyone allowed to create Events in a namespace.
import { displaySafe } from "../../src/api/display-text.ts";
import type { KubeEvent } from "../../src/api/kube-event.ts";
import type { Rollout } from "../../src/api/rollout-schema.ts";

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";

/** The namespace the dashboard was started for ("" = all). */
export const startNamespace = (): string => meta("vireo-namespace");
/** The kubeconfig context. */
export const contextName = (): string => meta("vireo-context");

async function json<T>(res: Response): Promise<T> {
  const body = displaySafe((await res.json()) as T & { error?: string });
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** One server-sent message, parsed and made safe to render. */
const parsed = (e: Event) => displaySafe(JSON.parse((e as MessageEvent).data));

/** Lists Rollouts. */
export async function fetchRollouts(namespace: string): Promise<Rollout[]> {
  const q = namespace ? `?namespace=${encodeURIComponent(namespace)}` : "";
  return (await json<{ items: Rollout[] }>(await fetch(`/api/rollouts${q}`))).items;
}

/** One Rollout and its Events. */
export async function fetchRollout(
  ns: string,
  name: string,
): Promise<{ rollout: Rollout; events: KubeEvent[] }> {
  return json(await fetch(`/api/rollouts/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`));
}

/** A watch event forwarded by the server. */
export interface StreamMessage<T> {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: T;
}

/** Subscribes to the server's watch stream; returns the unsubscribe function. */
export function subscribe(
  path: string,
  handlers: {
    rollout?: (m: StreamMessage<Rollout>) => void;
    event?: (m: StreamMessage<KubeEvent>) => void;
    failure?: (error: string) => void;
  },
): () => void {
  const source = new EventSource(path);
  if (handlers.rollout) {
    const h = handlers.rollout;
    source.addEventListener("rollout", (e) => h(parsed(e)));
  }
  if (handlers.event) {
    const h = handlers.event;
    source.addEventListener("event", (e) => h(parsed(e)));
  }
  if (handlers.failure) {
    const h = handlers.failure;
    source.addEventListener("failure", (e) => h(parsed(e).error));
  }
  return () => source.close();
}

/**
 * Sends promote/abort/.../approve (with the check to approve); resolves with the annotation written or rejects with
 * the API server's message.
 */
export async function act(
  ns: string,
  name: string,
  action: string,
  check?: string,
): Promise<{ annotation: string; value: string }> {
  const which = check === undefined ? "" : `/${encodeURIComponent(check)}`;
  const res = await fetch(
    `/api/rollouts/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${action}${which}`,
    {
      method: "POST",
      headers: { "X-CSRF-Token": meta("csrf-token") },
    },
  );
  return json(res);
}
