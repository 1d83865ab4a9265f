// Objects Vireo does not own, made in bulk: headless Services carrying a large annotation (the memory tests).
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError, kubeRequest } from "../cluster/kube-request.ts";

/** Annotation size: just under the API server's 256 KiB limit on all annotations of an object. */
export const FOREIGN_ANNOTATION_BYTES = 250_000;

/**
 * Creates Services `foreign-<from>` … `foreign-<to - 1>` in `namespace` (made first when `from` is 0), each with a
 * {@link FOREIGN_ANNOTATION_BYTES} annotation, `concurrency` at a time. Headless, so no cluster IP is allocated.
 */
export async function createForeignServices(
  kc: KubeConfig,
  namespace: string,
  from: number,
  to: number,
  concurrency = 8,
): Promise<void> {
  if (from === 0)
    await kubeRequest(kc, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace },
    }).catch((err: unknown) => {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    });
  const blob = "x".repeat(FOREIGN_ANNOTATION_BYTES);
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      await kubeRequest(kc, "POST", `/api/v1/namespaces/${namespace}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `foreign-${i}`, annotations: { "example.com/blob": blob } },
        spec: { clusterIP: "None", selector: { app: `foreign-${i}` }, ports: [{ port: 80 }] },
      }).catch((err: unknown) => {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
