// Runs `vireo loadgen` from the controller's bundle (the image's entry point, another command) on loopback for e2e,
// optionally with its own /etc/hosts (a mount namespace) standing in for the cluster DNS a pod would ask.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { bundleController, CONTROLLER_NODE_FLAGS } from "../../deploy/bundle.ts";
import { freePort } from "../cluster/ports.ts";
import { type ControllerProcess, superviseController } from "./controller-process.ts";

/**
 * Starts `vireo loadgen --namespace <namespace> …` on a free loopback port and waits until /readyz answers. With
 * `hostsFile`, the process runs in its own mount namespace with that file over /etc/hosts (root, as the image
 * tests): its names resolve as the file says, through the same system resolver a pod uses.
 */
export async function startLoadgen(opts: {
  namespace: string;
  logDir: string;
  args?: string[];
  env?: Record<string, string>;
  hostsFile?: string;
}): Promise<ControllerProcess & { url: string }> {
  const port = await freePort();
  mkdirSync(opts.logDir, { recursive: true });
  const command = [
    process.execPath,
    ...CONTROLLER_NODE_FLAGS,
    await bundleController(),
    "loadgen",
    `--namespace=${opts.namespace}`,
    `--port=${port}`,
    "--host=127.0.0.1",
    ...(opts.args ?? []),
  ];
  const spawnOptions = {
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"],
  };
  // `exec` keeps the pid the load generator's, so stop() signals it and not a shell.
  const child = opts.hostsFile
    ? spawn(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          'mount --bind "$0" /etc/hosts && exec "$@"',
          opts.hostsFile,
          ...command,
        ],
        spawnOptions,
      )
    : spawn(command[0] as string, command.slice(1), spawnOptions);
  const url = `http://127.0.0.1:${port}`;
  const p = await superviseController(child, {
    metricsUrl: url,
    logPath: join(opts.logDir, `loadgen-${opts.namespace}.log`),
    what: "loadgen",
    readyTimeoutMs: 30_000,
  });
  return Object.assign(p, { url });
}
