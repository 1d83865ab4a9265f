// `kubectl vireo dashboard`: serves the UI on 127.0.0.1 with the user's own kubeconfig and prints the URL.
import { resolve } from "node:path";
import type { Args } from "../args.ts";
import { connect } from "../context.ts";
import { startDashboard } from "./server.ts";

/** Where the build (npm run build:dashboard, also run by npm install) puts the UI. */
export const STATIC_DIR = resolve(import.meta.dirname, "../../../dist/dashboard");

/** Runs until SIGINT/SIGTERM. */
export async function dashboard(args: Args): Promise<number> {
  const ctx = await connect(args);
  const d = await startDashboard({
    kube: ctx.kube,
    staticDir: STATIC_DIR,
    port: args.port ?? 0,
    namespace: ctx.listNamespace,
  });
  ctx.out.write(`Vireo dashboard (context ${ctx.kube.contextName}): ${d.url}\n`);
  ctx.out.write("It acts with your kubeconfig credentials; press Ctrl-C to stop.\n");
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await d.close();
  return 0;
}
