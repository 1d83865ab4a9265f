// The controller image, built by `npm run image`, runs from its own rootfs as its non-root USER on a read-only
// root, with a ServiceAccount token mounted like a pod's, and takes an example Rollout to Healthy.

import assert from "node:assert/strict";
import { lstatSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTROLLER_NODE_FLAGS } from "../deploy/bundle.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { freePort } from "./cluster/ports.ts";
import { applyUntilHealthy, getJson } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";
import { buildImage, type MountedImage, mountImage, startFromImage } from "./support/image-process.ts";
import { serviceAccountCredentials } from "./support/service-account.ts";

const EXAMPLE = resolve(import.meta.dirname, "../examples/smi-podinfo.yaml");

let cluster: Cluster;
let image: MountedImage;
let controller: ControllerProcess;

describe("controller image", () => {
  before(async () => {
    const [name, c] = await Promise.all([buildImage(), startCluster({ prometheus: false })]);
    cluster = c;
    image = await mountImage(name);
    console.error(`[image.test] ${name}: ${image.sizeBytes} bytes`);
    const port = await freePort();
    const [uid, gid] = image.user.split(":").map(Number);
    controller = await startFromImage(
      image,
      {
        args: [`--metrics-port=${port}`, "--metrics-host=127.0.0.1", "--log-level=debug"],
        env: { POD_NAME: "vireo-image-test", POD_NAMESPACE: "vireo-system" },
        uid: uid ?? -1,
        gid: gid ?? -1,
        readOnlyRootFilesystem: true,
        serviceAccount: await serviceAccountCredentials(cluster, "vireo-system", "vireo"),
        apiServerUrl: cluster.apiServerUrl,
        metricsUrl: `http://127.0.0.1:${port}`,
      },
      { logDir: join(cluster.dir, "logs"), name: "controller-image" },
    );
  });
  after(async () => {
    await controller?.stop();
    await image?.remove();
    await cluster?.stop();
  });

  it("keeps build tools, dev dependencies and tests out, and runs as a numeric non-root user", () => {
    assert.match(image.user, /^[1-9][0-9]*:[1-9][0-9]*$/);
    assert.deepEqual(image.entrypoint, [
      "/nodejs/bin/node",
      ...CONTROLLER_NODE_FLAGS,
      "/app/dist/controller/main.mjs",
    ]);
    const lock = JSON.parse(readFileSync(resolve(import.meta.dirname, "../package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith("node_modules/") && p.dev)
      .map(([path]) => path);
    assert.ok(devOnly.length > 5);
    const present = devOnly.filter((path) => exists(join(image.dir, "app", path)));
    assert.deepEqual(present, [], "dev dependencies in the image");
    for (const tool of [
      "bin/sh",
      "usr/bin/npm",
      "usr/local/bin/npm",
      "usr/bin/apt-get",
      "app/src",
      "app/node_modules/esbuild",
    ])
      assert.equal(exists(join(image.dir, tool)), false, `${tool} in the image`);
    assert.ok(exists(join(image.dir, "app/node_modules/@kubernetes/client-node/package.json")));
  });

  it("runs as the image's USER with / mounted read-only", () => {
    const status = readFileSync(`/proc/${controller.pid}/status`, "utf8");
    const [uid, gid] = image.user.split(":");
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, "m"));
    assert.match(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s+${gid}\\s+${gid}$`, "m"));
    // mountinfo of the process's own namespace: its root ("/" seen from the chroot) is a read-only mount.
    const root = readFileSync(`/proc/${controller.pid}/mountinfo`, "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .find((f) => f[4] === "/");
    assert.ok(root, "no mount at the process's /");
    assert.match(root[5] ?? "", /(^|,)ro(,|$)/);
  });

  it("takes the SMI example Rollout to Healthy as the vireo ServiceAccount", async () => {
    const text = readFileSync(EXAMPLE, "utf8");
    const rollout = await applyUntilHealthy(cluster, text);
    const { namespace } = rollout.metadata;
    assert.equal(rollout.status?.canaryWeight, 0);
    const splits = await getJson<{ items: unknown[] }>(cluster, [
      "trafficsplits.split.smi-spec.io",
      "-n",
      namespace,
      "-l",
      "app.kubernetes.io/managed-by=vireo",
    ]);
    assert.equal(splits?.items.length, 1);
    assert.equal(controller.exited(), false, "the controller crashed (a write to the read-only root?)");
  });
});

/** lstat, so an absolute symlink inside the rootfs is not followed onto the host. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
