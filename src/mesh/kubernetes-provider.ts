// The "kubernetes" provider: no mesh; the root Service's selector switches all traffic (blue/green only).
import { apiCoreReader, KubernetesServiceAdapter } from "./kubernetes.ts";
import { defineProvider } from "./provider.ts";

/**
 * Plain Services, served by every cluster. It writes only the root Service (whose RBAC the workload layer already
 * has) and lists EndpointSlices from the API server (RBAC in the chart's core rules), so it adds no rule and
 * watches no routing kind of its own. Builtin metrics come from whatever proxy the traffic passes
 * (`--metrics-mesh`).
 */
export const kubernetesProvider = defineProvider({
  name: "kubernetes",
  apiGroups: [],
  requires: "nothing beyond Kubernetes",
  detect: (): Record<string, never> => ({}),
  create: (_apis, { client }) => new KubernetesServiceAdapter({ client, core: apiCoreReader(client) }),
  routingTypes: () => [],
  routingKinds: [],
  policyTypes: [],
  metricsMesh: undefined,
});
