// The upstream mesh CRDs every e2e cluster installs, and Argo Rollouts' analysis template CRDs the Argo e2e installs,
// read from the Go module cache where build-crds.sh found them.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { MESH_PROVIDERS } from "../../src/mesh/registry.ts";
import { readManifests } from "./manifests.ts";
import { cacheDir, REPO_ROOT } from "./paths.ts";

/** One upstream CRD and the pinned module it came from. */
export interface UpstreamCrd {
  /** `module@version`, e.g. `sigs.k8s.io/gateway-api@v1.4.0`. */
  module: string;
  /** The file in the module cache. */
  file: string;
  crd: KubernetesObject;
}

/** Where build-crds.sh records the files (one "module@version\tpath" per line after a header naming the pins). */
export const upstreamCrdList = (): string => join(cacheDir(), "upstream-crds.list");
/** Where build-crds.sh records Argo Rollouts' AnalysisTemplate and ClusterAnalysisTemplate CRDs. */
const argoCrdList = (): string => join(cacheDir(), "argo-crds.list");

/**
 * Istio's module ships its 15 CRDs in one file; the clusters install the ones a provider writes (VirtualService,
 * AuthorizationPolicy — each of Istio's schemas takes the API server a while to build). The other modules' CRD
 * sets are installed whole (Gateway API's standard channel is what a Gateway implementation expects).
 */
const WRITTEN = new Set(
  MESH_PROVIDERS.flatMap((p) => [...p.routingKinds, ...p.policyTypes]).map((k) => `${k.plural}.${k.group}`),
);
const keep = (u: UpstreamCrd): boolean =>
  !u.module.startsWith("istio.io/api@") || WRITTEN.has(u.crd.metadata?.name ?? "");

/**
 * Every upstream CRD the e2e clusters install, as apiextensions.k8s.io/v1 (see {@link toV1Crd}). Runs
 * build-crds.sh first when nothing is recorded yet, so a fresh machine with network still works without
 * `build-control-plane.sh` (it is cheap when cached). The parsed result is cached as JSON beside the list (parsing 1.5 MB of YAML
 * took ~2 s per cluster start on a loaded machine), keyed by the list's contents. `allIstio`: every Istio CRD, for
 * clusters that run istiod (Gateway, DestinationRule, PeerAuthentication, …).
 */
export function upstreamCrds(o: { allIstio?: boolean } = {}): UpstreamCrd[] {
  const wanted = (u: UpstreamCrd) => o.allIstio === true || keep(u);
  return readCrdList(upstreamCrdList()).filter(wanted);
}

/** Argo Rollouts' AnalysisTemplate and ClusterAnalysisTemplate CRDs (argoproj.io), as Argo ships them. */
export function argoTemplateCrds(): KubernetesObject[] {
  return readCrdList(argoCrdList()).map((u) => u.crd);
}

/** The CRDs a build-crds.sh list names, parsed (running build-crds.sh first when the list is missing). */
function readCrdList(list: string): UpstreamCrd[] {
  if (!existsSync(list)) {
    execFileSync("bash", [join(REPO_ROOT, "e2e", "cluster", "build-crds.sh")], { stdio: "inherit" });
  }
  const text = readFileSync(list, "utf8");
  const cache = `${list}.json`;
  try {
    const cached = JSON.parse(readFileSync(cache, "utf8")) as { list: string; crds: UpstreamCrd[] };
    if (cached.list === text) return cached.crds;
  } catch {
    // no cache yet, or unreadable: parse below
  }
  const out: UpstreamCrd[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [module, file] = line.split("\t");
    if (!module || !file) throw new Error(`${list}: malformed line ${JSON.stringify(line)}`);
    if (!existsSync(file)) throw new Error(`${file} (${module}) is gone: run bash e2e/cluster/build-crds.sh`);
    for (const obj of readManifests(file)) {
      if (obj.kind === "CustomResourceDefinition") out.push({ module, file, crd: toV1Crd(obj) });
    }
  }
  // Atomic publish: parallel e2e files may write it at once.
  const tmp = `${cache}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ list: text, crds: out }));
  renameSync(tmp, cache);
  return out;
}

type Json = Record<string, unknown>;

/**
 * An apiextensions.k8s.io/v1beta1 CRD (what smi-sdk-go ships; Kubernetes ≥ 1.22 refuses v1beta1) converted the way
 * the API server converted stored v1beta1 CRDs: the top-level `validation`, `subresources` and
 * `additionalPrinterColumns` (JSONPath → jsonPath) move into every version, and `version` goes. v1 also demands a
 * structural schema, so an object node with `properties` but no `type` gets `type: object` — the one change to
 * the upstream schema, and it accepts exactly what the v1beta1 one accepted. Served/storage flags are kept as
 * shipped. v1 CRDs are returned unchanged.
 */
export function toV1Crd(obj: KubernetesObject): KubernetesObject {
  if (obj.apiVersion !== "apiextensions.k8s.io/v1beta1") return obj;
  const {
    validation,
    subresources,
    additionalPrinterColumns,
    version: _version,
    versions,
    ...rest
  } = (obj as unknown as { spec: Json }).spec as Json & { versions?: Json[] };
  const columns = (additionalPrinterColumns as Json[] | undefined)?.map(({ JSONPath, ...c }) => ({
    ...c,
    jsonPath: JSONPath,
  }));
  const schema = (validation as { openAPIV3Schema?: unknown } | undefined)?.openAPIV3Schema;
  const perVersion = (versions ?? []).map((v) => ({
    ...v,
    ...(schema ? { schema: { openAPIV3Schema: structural(schema) } } : {}),
    ...(subresources ? { subresources } : {}),
    ...(columns ? { additionalPrinterColumns: columns } : {}),
  }));
  return {
    ...obj,
    apiVersion: "apiextensions.k8s.io/v1",
    spec: { ...rest, versions: perVersion },
  } as KubernetesObject;
}

/** Adds `type: object` to every schema node that has `properties` but no type (recursively). */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (typeof node !== "object" || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    // Property names are data, not schema keywords: recurse into each property's schema, never rename keys.
    out[k] =
      k === "properties" && typeof v === "object" && v !== null
        ? Object.fromEntries(Object.entries(v).map(([name, s]) => [name, structural(s)]))
        : structural(v);
  }
  if (out.properties !== undefined && out.type === undefined) out.type = "object";
  return out;
}
