// Runs the controller image the way a kubelet would, without a container runtime (podman run cannot work here):
// the image's rootfs (podman create + mount) is bind-mounted read-only in a private mount namespace, a
// ServiceAccount token is mounted where in-cluster clients look for it, and the image's entrypoint is started with
// chroot as the pod's uid:gid.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type ControllerProcess, superviseController } from "./controller-process.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const PODMAN = ["--storage-driver", "vfs"];
/** Where client-node's loadFromCluster reads the token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Builds the image with `npm run image`'s script (cached: a no-op when nothing changed); returns its name. */
export async function buildImage(): Promise<string> {
  const { stdout } = await run("bash", [join(ROOT, "e2e/cluster/build-image.sh")], {
    maxBuffer: 16 << 20,
    timeout: 900_000,
  });
  const name = stdout.trim().split("\n").at(-1);
  if (!name) throw new Error("build-image.sh printed no image name");
  return name;
}

/** An image's filesystem and the config a runtime would honour. */
export interface MountedImage {
  readonly dir: string;
  readonly entrypoint: string[];
  /** KEY=VALUE pairs from the image config. */
  readonly env: string[];
  /** The image's USER. */
  readonly user: string;
  readonly sizeBytes: number;
  /** podman umount + rm. */
  remove(): Promise<void>;
}

/** Creates a container from `image` (never started) and mounts its filesystem. */
export async function mountImage(image: string): Promise<MountedImage> {
  const inspect = await run("podman", [...PODMAN, "image", "inspect", image]);
  const [info] = JSON.parse(inspect.stdout) as {
    Size: number;
    Config: { Entrypoint?: string[]; Env?: string[]; User?: string };
  }[];
  if (!info) throw new Error(`no image ${image}`);
  const id = (await run("podman", [...PODMAN, "create", image])).stdout.trim();
  const dir = (await run("podman", [...PODMAN, "mount", id])).stdout.trim();
  return {
    dir,
    entrypoint: info.Config.Entrypoint ?? [],
    env: info.Config.Env ?? [],
    user: info.Config.User ?? "",
    sizeBytes: info.Size,
    async remove() {
      await run("podman", [...PODMAN, "umount", id]).catch(() => {});
      await run("podman", [...PODMAN, "rm", "-f", id]).catch(() => {});
    },
  };
}

/** What a pod gives its container. */
export interface PodSpecLike {
  /** Appended to the entrypoint, as a container's `args`. */
  args: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  readOnlyRootFilesystem: boolean;
  serviceAccount: { token: string; caPem: string; namespace: string };
  /** The API server, reached as KUBERNETES_SERVICE_HOST/PORT (in-cluster config). */
  apiServerUrl: string;
  /** Where /readyz answers once the controller is up, e.g. http://127.0.0.1:PORT. */
  metricsUrl: string;
}

/**
 * Starts the image's entrypoint in `image.dir` as `pod` describes and waits for /readyz. The process runs in its
 * own mount namespace, so the read-only and token mounts vanish with it.
 */
export async function startFromImage(
  image: MountedImage,
  pod: PodSpecLike,
  opts: { logDir: string; name: string },
): Promise<ControllerProcess> {
  mkdirSync(opts.logDir, { recursive: true });
  const saDir = join(opts.logDir, `${opts.name}-serviceaccount`);
  mkdirSync(saDir, { recursive: true, mode: 0o755 });
  writeFileSync(join(saDir, "token"), pod.serviceAccount.token, { mode: 0o644 });
  writeFileSync(join(saDir, "ca.crt"), pod.serviceAccount.caPem, { mode: 0o644 });
  writeFileSync(join(saDir, "namespace"), pod.serviceAccount.namespace, { mode: 0o644 });
  // The mount point, as a container runtime creates it in the container's writable layer (not in the image).
  mkdirSync(join(image.dir, SERVICE_ACCOUNT_DIR), { recursive: true });

  const api = new URL(pod.apiServerUrl);
  const env: Record<string, string> = {
    ...Object.fromEntries(
      image.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
    KUBERNETES_SERVICE_HOST: api.hostname,
    KUBERNETES_SERVICE_PORT: api.port || "443",
    ...pod.env,
  };
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const root = q(image.dir);
  const script = [
    "set -e",
    // A bind mount of the rootfs onto itself, remounted read-only: every write below / fails with EROFS.
    `mount --bind ${root} ${root}`,
    pod.readOnlyRootFilesystem ? `mount -o remount,bind,ro ${root}` : ":",
    `mount --bind ${q(saDir)} ${q(join(image.dir, SERVICE_ACCOUNT_DIR))}`,
    `mount -o remount,bind,ro ${q(join(image.dir, SERVICE_ACCOUNT_DIR))}`,
    // The entrypoint sees only the image's and the pod's environment, as in a container.
    `exec env -i ${Object.entries(env)
      .map(([k, v]) => q(`${k}=${v}`))
      .join(
        " ",
      )} "$(command -v chroot)" --userspec=${pod.uid}:${pod.gid} --groups=${pod.gid} ${root} ${[...image.entrypoint, ...pod.args].map(q).join(" ")}`,
  ].join("\n");
  const logPath = join(opts.logDir, `${opts.name}.log`);
  const child = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return superviseController(child, {
    metricsUrl: pod.metricsUrl,
    logPath,
    what: "controller from the image",
    readyTimeoutMs: 90_000,
  });
}
