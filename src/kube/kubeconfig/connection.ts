// What a request pipeline needs from a kubeconfig: the API server's URL and a way to authenticate each request.
import type { RequestOptions } from "node:https";

/**
 * An API server endpoint plus credentials. `authenticate` fills TLS material, the Authorization header and (on the
 * client-node path) the agent into the options of each request: it is called per request, so credentials may
 * rotate (token files, exec plugins).
 */
export interface KubeConnection {
  /** Base URL, e.g. `https://10.0.0.1:6443`. */
  readonly server: string;
  authenticate(options: RequestOptions): void | Promise<void>;
  /**
   * The API server answered 401 to a request whose options `authenticate` filled: drops those credentials if they
   * are still the current ones. Resolves true when a retry may carry different credentials (a token file that
   * changed, a fresh exec credential); absent or false when nothing could change.
   */
  rejected?(options: RequestOptions): boolean | Promise<boolean>;
}

/**
 * The part of client-node's `KubeConfig` the pipeline uses, structurally, so tests and tools that already hold one
 * can pass it without this module importing client-node (which loads every generated model class: ~80 MB of RSS).
 */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}
