// Runs `vireo loadgen` from the controller's bundle (the image's entry point, another command) on loopback for e2e.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { bundleController, CONTROLLER_NODE_FLAGS } from "../../deploy/bundle.ts";
import { type ControllerProcess, freePort, superviseController } from "./controller-process.ts";

/** Starts `vireo loadgen --namespace <namespace> …` on a free loopback port and waits until /readyz answers. */
export async function startLoadgen(opts: {
  namespace: string;
  logDir: string;
  args?: string[];
}): Promise<ControllerProcess & { url: string }> {
  const port = await freePort();
  mkdirSync(opts.logDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      ...CONTROLLER_NODE_FLAGS,
      await bundleController(),
      "loadgen",
      `--namespace=${opts.namespace}`,
      `--port=${port}`,
      "--host=127.0.0.1",
      ...(opts.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = `http://127.0.0.1:${port}`;
  const p = await superviseController(child, {
    metricsUrl: url,
    logPath: join(opts.logDir, `loadgen-${opts.namespace}.log`),
    what: "loadgen",
    readyTimeoutMs: 30_000,
  });
  return Object.assign(p, { url });
}
