// The kubelet's HTTP probes of a pod template, which a mesh policy must keep authorized (Linkerd per-route policy).

/** An HTTP GET the kubelet sends to a pod: `path` on container port `port` (named `portName` when it has one). */
export interface HttpProbe {
  path: string;
  port: number;
  portName?: string;
}

interface HttpGetAction {
  path?: string;
  port?: number | string;
  scheme?: string;
}
interface ContainerLike {
  ports?: { name?: string; containerPort?: number }[];
  livenessProbe?: { httpGet?: HttpGetAction };
  readinessProbe?: { httpGet?: HttpGetAction };
  startupProbe?: { httpGet?: HttpGetAction };
}
interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
}

/**
 * The plain-HTTP `httpGet` liveness, readiness and startup probes of every container (sidecar init containers
 * included), with named ports resolved through the container's ports and the query string dropped (routes match
 * paths). HTTPS probes are left out: a proxy does not see their paths. Sorted and de-duplicated. Takes a PodSpec
 * as read from the API (anything else yields no probes).
 */
export function httpProbesOf(podSpec: unknown): HttpProbe[] {
  const spec = (typeof podSpec === "object" && podSpec !== null ? podSpec : {}) as PodSpecLike;
  const list = (v: unknown): ContainerLike[] =>
    Array.isArray(v) ? v.filter((c) => typeof c === "object" && c) : [];
  const out = new Map<string, HttpProbe>();
  for (const c of [...list(spec.initContainers), ...list(spec.containers)]) {
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      const get = probe?.httpGet;
      if (!get || String(get.scheme ?? "HTTP").toUpperCase() !== "HTTP") continue;
      if (typeof get.port !== "number" && typeof get.port !== "string") continue;
      const named = typeof get.port === "string" ? c.ports?.find((p) => p.name === get.port) : undefined;
      const port =
        typeof get.port === "number" ? get.port : (named?.containerPort ?? numberOrUndefined(get.port));
      if (port === undefined) continue; // a name no container port has: the kubelet cannot probe it either
      const portName = named?.name ?? c.ports?.find((p) => p.containerPort === port)?.name;
      const path = (typeof get.path === "string" && get.path.split("?")[0]) || "/";
      const p: HttpProbe = portName ? { path, port, portName } : { path, port };
      out.set(`${port}\u0000${path}`, p);
    }
  }
  return [...out.values()].sort(
    (a, b) => a.port - b.port || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

/** The probe paths sent to `targetPort` (a Service targetPort: a container port number or name). */
export function probePathsOn(probes: readonly HttpProbe[], targetPort: number | string): string[] {
  const on = probes.filter((p) =>
    typeof targetPort === "number" ? p.port === targetPort : p.portName === targetPort,
  );
  return [...new Set(on.map((p) => p.path))].sort();
}

function numberOrUndefined(s: string): number | undefined {
  return /^[0-9]+$/.test(s) ? Number(s) : undefined;
}
