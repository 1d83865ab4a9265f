// Tests of the probe paths Vireo keeps authorized on Linkerd (plain-HTTP httpGet probes of the pod template).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { httpProbesOf, probePathsOn } from "./pod-probes.ts";

const podSpec = {
  initContainers: [
    {
      name: "sidecar",
      restartPolicy: "Always",
      livenessProbe: { httpGet: { path: "/sidecar", port: 7000 } },
    },
  ],
  containers: [
    {
      name: "app",
      ports: [
        { name: "http", containerPort: 9090 },
        { name: "admin", containerPort: 9901 },
      ],
      livenessProbe: { httpGet: { path: "/healthz?verbose=1", port: "http" } },
      readinessProbe: { httpGet: { path: "/ready", port: 9090 } },
      startupProbe: { httpGet: { port: "admin" } },
    },
    {
      name: "tls",
      livenessProbe: { httpGet: { path: "/secure", port: 8443, scheme: "HTTPS" } },
      readinessProbe: { tcpSocket: { port: 8443 } },
    },
    { name: "typo", livenessProbe: { httpGet: { path: "/x", port: "nosuchport" } } },
  ],
};

describe("httpProbesOf", () => {
  it("reads plain-HTTP httpGet probes, resolving named ports and dropping query strings", () => {
    assert.deepEqual(httpProbesOf(podSpec), [
      { path: "/sidecar", port: 7000 },
      { path: "/healthz", port: 9090, portName: "http" },
      { path: "/ready", port: 9090, portName: "http" },
      { path: "/", port: 9901, portName: "admin" },
    ]);
  });

  it("yields nothing for a template without probes or a malformed one", () => {
    assert.deepEqual(httpProbesOf(undefined), []);
    assert.deepEqual(httpProbesOf({ containers: "nope" }), []);
    assert.deepEqual(httpProbesOf({ containers: [{ name: "app" }] }), []);
  });

  it("selects the paths on a Service targetPort given as a number or a name", () => {
    const probes = httpProbesOf(podSpec);
    assert.deepEqual(probePathsOn(probes, 9090), ["/healthz", "/ready"]);
    assert.deepEqual(probePathsOn(probes, "http"), ["/healthz", "/ready"]);
    assert.deepEqual(probePathsOn(probes, "admin"), ["/"]);
    assert.deepEqual(probePathsOn(probes, 8443), [], "HTTPS probes are not routed by path");
  });
});
