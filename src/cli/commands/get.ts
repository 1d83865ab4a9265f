// `get [NAME] [--watch]` and `list`: read Rollouts, render them, and redraw live from watches.
import type { Rollout } from "../../api/rollout-schema.ts";
import { PRIMARY_SUFFIX } from "../../workload/names.ts";
import type { Args } from "../args.ts";
import { type CliContext, connect } from "../context.ts";
import { ApiError, CliError } from "../errors.ts";
import { formatObjects } from "../output.ts";
import { type RolloutView, renderList, renderRollout } from "../render.ts";
import { deploymentSummary, getRollout, listRollouts, rolloutEvents, watchRollouts } from "../rollout-api.ts";
import { LiveScreen } from "../screen.ts";

/** Resolves the Rollout NAME argument: the given one, or the only Rollout in the namespace. */
export async function resolveName(ctx: CliContext, args: Args): Promise<string> {
  const given = args.positional[0];
  if (given) return given;
  const { items } = await listRollouts(ctx.kube, ctx.namespace);
  if (items.length === 1 && items[0]) return items[0].metadata.name;
  if (items.length === 0) throw new CliError(`no Rollouts in namespace "${ctx.namespace}"`);
  throw new CliError(
    `namespace "${ctx.namespace}" has ${items.length} Rollouts (${items.map((r) => r.metadata.name).join(", ")}); name one`,
  );
}

/** Everything the view needs, read in parallel. */
export async function loadView(ctx: CliContext, namespace: string, rollout: Rollout): Promise<RolloutView> {
  const target = rollout.spec.targetRef?.name ?? rollout.metadata.name;
  const [events, primary, canary] = await Promise.all([
    rolloutEvents(ctx.kube, namespace, rollout.metadata.name).catch(() => []),
    deploymentSummary(ctx.kube, namespace, `${target}${PRIMARY_SUFFIX}`),
    deploymentSummary(ctx.kube, namespace, target),
  ]);
  return { rollout, events, primary, canary };
}

/** `kubectl vireo get`. */
export async function get(args: Args): Promise<number> {
  const ctx = await connect(args);
  const name = await resolveName(ctx, args);
  const rollout = await getRollout(ctx.kube, ctx.namespace, name);
  if (args.output === "json" || args.output === "yaml") {
    if (args.watch) throw new CliError("--watch prints the live view; use it without -o json|yaml", 2);
    ctx.out.write(await formatObjects(rollout, args.output));
    return 0;
  }
  const view = await loadView(ctx, ctx.namespace, rollout);
  if (!args.watch) {
    ctx.out.write(`${renderRollout(view, { now: ctx.now(), color: ctx.color }).join("\n")}\n`);
    return 0;
  }
  return watchOne(ctx, view);
}

/**
 * The live view. On a terminal it redraws in place every second (timers move); when piped it prints a frame only
 * when the Rollout or its Events change, so the output is a stable log of states.
 */
async function watchOne(ctx: CliContext, first: RolloutView): Promise<number> {
  const screen = new LiveScreen(ctx.out, ctx.out.isTTY === true);
  const namespace = first.rollout.metadata.namespace;
  const name = first.rollout.metadata.name;
  let view = first;
  const draw = () => screen.draw(renderRollout(view, { now: ctx.now(), color: ctx.color }));
  draw();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const ticker = ctx.out.isTTY ? setInterval(draw, 1000) : undefined;
  let resourceVersion = first.rollout.metadata.resourceVersion;
  let refreshing = Promise.resolve();
  try {
    while (!stop.signal.aborted) {
      try {
        await watchRollouts(ctx.kube, { namespace, name, resourceVersion, signal: stop.signal }, (e) => {
          if (e.type === "BOOKMARK") {
            resourceVersion = e.object.metadata.resourceVersion;
            return;
          }
          if (e.type === "ERROR") {
            resourceVersion = undefined;
            return;
          }
          resourceVersion = e.object.metadata.resourceVersion;
          if (e.type === "DELETED") {
            screen.draw([...renderRollout(view, { now: ctx.now(), color: ctx.color }), "(deleted)"]);
            stop.abort();
            return;
          }
          const rollout = e.object;
          // Events and readiness follow the Rollout's changes; one refresh at a time, newest wins.
          refreshing = refreshing.then(async () => {
            view = await loadView(ctx, namespace, rollout);
            draw();
          });
        });
      } catch (err) {
        if (stop.signal.aborted) break;
        if (err instanceof ApiError && err.status !== 410) throw err;
        resourceVersion = undefined;
      }
      if (!stop.signal.aborted && resourceVersion === undefined) {
        const rollout = await getRollout(ctx.kube, namespace, name);
        resourceVersion = rollout.metadata.resourceVersion;
        view = await loadView(ctx, namespace, rollout);
        draw();
      }
    }
  } finally {
    if (ticker) clearInterval(ticker);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await refreshing.catch(() => undefined);
    screen.end();
  }
  return 0;
}

/** `kubectl vireo list`. */
export async function list(args: Args): Promise<number> {
  const ctx = await connect(args);
  const { items } = await listRollouts(ctx.kube, ctx.listNamespace);
  if (args.output === "json" || args.output === "yaml") {
    ctx.out.write(await formatObjects(items, args.output));
    return 0;
  }
  if (items.length === 0) {
    process.stderr.write(
      ctx.listNamespace ? `No Rollouts in namespace "${ctx.listNamespace}".\n` : "No Rollouts found.\n",
    );
    return 0;
  }
  const lines = renderList(items, { now: ctx.now(), color: ctx.color, allNamespaces: args.allNamespaces });
  ctx.out.write(`${lines.join("\n")}\n`);
  return 0;
}
