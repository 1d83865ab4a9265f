// Cluster contents every e2e test relies on: fake kwok Nodes and the controller's least-privilege identity.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { type KubeconfigSpec, writeKubeconfig } from "./kubeconfig.ts";
import { applyFile, applyObjects, describeApiError } from "./manifests.ts";
import { REPO_ROOT } from "./paths.ts";
import { waitFor } from "./wait.ts";

/** Namespace and ServiceAccount the shipped RBAC (deploy/rbac.yaml) grants to the controller. */
export const CONTROLLER_NAMESPACE = "vireo-system";
export const CONTROLLER_SERVICE_ACCOUNT = "vireo";

/** A fake node kwok will manage: no NoSchedule taint, so ordinary test pods land on it. */
function fakeNode(name: string): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        type: "kwok",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
    },
    // Nodes accept status on create; kwok keeps it (and the lease) fresh afterwards.
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
      nodeInfo: {
        architecture: "amd64",
        operatingSystem: "linux",
        kubeletVersion: "fake",
        kubeProxyVersion: "fake",
        bootID: "",
        containerRuntimeVersion: "",
        kernelVersion: "",
        machineID: "",
        osImage: "",
        systemUUID: "",
      },
    },
  };
}

/** Creates `count` fake Nodes (kwok-node-0…) and waits until at least one is Ready. */
export async function createFakeNodes(kc: KubeConfig, count: number): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
  await Promise.all(
    names.map(async (name) => {
      try {
        await core.createNode({ body: fakeNode(name) });
      } catch (err) {
        if ((err as { code?: number }).code !== 409)
          throw new Error(`creating node ${name}: ${describeApiError(err)}`);
      }
    }),
  );
  return names;
}

/** Waits until a Node reports Ready=True (kwok is running and managing it). */
export async function waitForReadyNode(
  kc: KubeConfig,
  timeoutMs: number,
  abortIf?: () => void,
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  return waitFor(
    async () => {
      const nodes = await core.listNode();
      const ready = nodes.items.find((n) =>
        n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return ready?.metadata?.name;
    },
    { what: "a Ready kwok node", timeoutMs, intervalMs: 200, ...(abortIf ? { abortIf } : {}) },
  );
}

/**
 * Applies the shipped deploy/namespace.yaml and deploy/rbac.yaml. Until the lead has written them, creates the
 * namespace and ServiceAccount only, so the controller identity exists but holds no permissions at all.
 * Returns which source was used.
 */
export async function applyControllerRbac(kc: KubeConfig): Promise<"deploy" | "fallback"> {
  const nsFile = join(REPO_ROOT, "deploy", "namespace.yaml");
  const rbacFile = join(REPO_ROOT, "deploy", "rbac.yaml");
  if (existsSync(nsFile)) await applyFile(kc, nsFile);
  if (existsSync(rbacFile)) {
    await applyFile(kc, rbacFile);
    return "deploy";
  }
  await applyObjects(kc, [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: CONTROLLER_NAMESPACE } },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: CONTROLLER_SERVICE_ACCOUNT, namespace: CONTROLLER_NAMESPACE },
    },
  ]);
  return "fallback";
}

/**
 * Mints a TokenRequest token for the controller's ServiceAccount and writes a kubeconfig using it, so e2e runs
 * the controller with exactly the shipped RBAC (not as admin).
 */
export async function writeControllerKubeconfig(
  kc: KubeConfig,
  path: string,
  server: string,
  ca: KubeconfigSpec["ca"],
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const tr = await waitFor(
    // The SA can be a few ms behind the apply on a busy apiserver; retry briefly instead of failing.
    () =>
      core.createNamespacedServiceAccountToken({
        name: CONTROLLER_SERVICE_ACCOUNT,
        namespace: CONTROLLER_NAMESPACE,
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { audiences: [], expirationSeconds: 86_400 },
        },
      }),
    {
      what: `token for ${CONTROLLER_NAMESPACE}/${CONTROLLER_SERVICE_ACCOUNT}`,
      timeoutMs: 10_000,
      intervalMs: 200,
    },
  );
  const token = tr.status?.token;
  if (!token) throw new Error("TokenRequest returned no token");
  writeKubeconfig(path, {
    server,
    ca,
    user: `${CONTROLLER_NAMESPACE}-${CONTROLLER_SERVICE_ACCOUNT}`,
    credentials: { token },
    namespace: CONTROLLER_NAMESPACE,
  });
}
