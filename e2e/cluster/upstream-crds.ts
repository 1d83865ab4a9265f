// Upstream CRDs read from the Go module cache, pinned by module version (the envtest convention; no vendored copies).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The Gateway API release whose standard-channel CRDs the e2e clusters install (Traefik v3.6 implements v1.4). */
export const GATEWAY_API_VERSION = "v1.4.0";

/**
 * The module's directory in the Go module cache (read-only), downloading it through the module proxy when missing.
 * GOTOOLCHAIN=local: the proxy here serves no toolchains, and a silent toolchain switch would not be reproducible.
 */
export function goModuleDir(module: string, version: string): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
    encoding: "utf8",
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
    timeout: 120_000,
  });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no Dir"}`);
  return info.Dir;
}

/** Directory of the Gateway API standard-channel CRDs (GatewayClass, Gateway, HTTPRoute, GRPCRoute, …). */
export function gatewayApiStandardCrdDir(version = GATEWAY_API_VERSION): string {
  const dir = join(goModuleDir("sigs.k8s.io/gateway-api", version), "config", "crd", "standard");
  if (!existsSync(dir)) throw new Error(`sigs.k8s.io/gateway-api@${version} has no config/crd/standard`);
  return dir;
}
