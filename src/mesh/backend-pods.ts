// Reads which pods the primary and canary Services select, for policies that must select pods (Istio, Linkerd).
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { ObjectStore, ResourceType } from "./object-store.ts";
import type { SplitRef } from "./types.ts";

const SERVICE: ResourceType = { group: "", version: "v1", plural: "services", kind: "Service" };

/** The pods behind the two backend Services. */
export interface BackendPods {
  /** `spec.selector` of `<root>-primary`. */
  primary: Record<string, string>;
  /** `spec.selector` of `<root>-canary`. */
  canary: Record<string, string>;
  /** The container port behind `ref.port` (the primary Service's targetPort, a number or a port name). */
  targetPort: number | string;
}

interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: { port?: number; targetPort?: number | string }[];
}

/**
 * Reads the backend Services' selectors. The model names Services, not pods, and Vireo's primary pods carry
 * renamed selector values (`app: x-primary`), so policies selecting pods must learn both selectors from the
 * Services the workload layer created. Throws {@link MeshError} `Pending` while a Service is missing and
 * `Unsupported` for a selector-less Service (an empty pod selector would select every pod in the namespace).
 */
export async function readBackendPods(store: ObjectStore, ref: SplitRef): Promise<BackendPods> {
  const read = async (name: string) => {
    const svc = await store.get(SERVICE, ref.namespace, name);
    if (svc === null) {
      throw new MeshError(MeshErrorKind.Pending, `Service ${ref.namespace}/${name} does not exist yet`);
    }
    const spec = (svc.spec ?? {}) as ServiceSpec;
    if (!spec.selector || Object.keys(spec.selector).length === 0) {
      throw new MeshError(
        MeshErrorKind.Unsupported,
        `Service ${ref.namespace}/${name} has no selector; a policy for it would select every pod of the namespace`,
      );
    }
    return spec;
  };
  const [primary, canary] = await Promise.all([read(ref.primaryService), read(ref.canaryService)]);
  const port = primary.ports?.find((p) => p.port === ref.port);
  return {
    primary: primary.selector ?? {},
    canary: canary.selector ?? {},
    targetPort: port?.targetPort ?? ref.port,
  };
}
