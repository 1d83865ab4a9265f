// Runs analysis measurements off the work-queue workers, a bounded number per Prometheus shared fairly between
// namespaces, and hands each result back only to the Rollout state it was taken for.
import type { MetricMeasurement } from "../analysis/types.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { type Clock, systemClock, type TimerHandle } from "../kube/clock.ts";
import { FairQueue } from "../kube/fair-queue.ts";
import { nextAnalysisAt } from "../rollout/decide.ts";

/** What a measurement was taken for; its result counts only while the Rollout's status still says the same. */
export interface AnalysisTag {
  /** status.canaryRevision. */
  revision: string;
  /** status.currentStepIndex. */
  stepIndex: number;
  /** status.rolloutStartedAt: tells a retried rollout of the same revision from the earlier one. */
  rolloutStartedAt: string;
  /** When the tick became due (ISO). */
  dueAt: string;
  /** metadata.generation: a spec edit may change the queries, so a measurement from before it does not count. */
  generation: number;
}

/** A finished measurement. */
export interface MeasurementResult {
  measurements: MetricMeasurement[];
  /** When the measurement started: the time its queries describe. */
  startedAt: Date;
}

/** Why a result was thrown away (label of the discard metric). */
export type DiscardReason = "superseded" | "revision-changed";

/** Options of {@link AnalysisScheduler}. */
export interface AnalysisSchedulerOptions {
  /** Measurements running at once against one Prometheus (lane); one namespace holds at most half of them. */
  concurrency: number;
  /** Upper bound for one measurement; past it every metric is an error measurement. */
  timeoutMs: number;
  /** A result for `key` is ready to be taken (wire to the work queue). */
  onResult: (key: string) => void;
  /** A result (or a measurement still running) was thrown away because the Rollout moved on. */
  onDiscard?: (reason: DiscardReason) => void;
  /** Timers (the measurement deadline). */
  clock?: Clock;
  /**
   * The time base results are stamped in (default the clock's): it must be the engine's, because the engine compares
   * `startedAt` with `stepStartedAt`. A tick stamped on this node's clock while the engine runs on the API server's
   * could look younger than a step entered after it, and pass that step on traffic taken before it.
   */
  now?: () => number;
}

/** Per-request options. */
export interface RequestOptions {
  /**
   * Which concurrency pool the measurement waits in: the Prometheus it queries, so a slow Prometheus holds up only
   * the Rollouts that use it. Default: one shared lane.
   */
  lane?: string;
  /** Metric names, for the error measurements a timeout or a failed run turns into. */
  metrics?: readonly string[];
}

type Run = (signal: AbortSignal) => Promise<MetricMeasurement[]>;

/** Input of {@link AnalysisScheduler.tick}. */
export interface TickInput {
  spec: RolloutSpec;
  status: RolloutStatus | undefined;
  generation: number;
  /** The revision the target Deployment runs now. */
  observedRevision: string | undefined;
  now: Date;
  /** Measures the Rollout's metrics; started only when no result for the due tick is there. */
  run: Run;
}

/** Outcome of {@link AnalysisScheduler.tick}. */
export interface TickOutcome {
  /** The tick's measurements, to hand to the engine. */
  result?: MeasurementResult;
  /** A measurement for the due tick is queued or running: its result will wake the Rollout. */
  waiting: boolean;
}

interface Job {
  key: string;
  /** The namespace of `key`: the unit of fairness within a lane. */
  namespace: string;
  tagKey: string;
  lane: string;
  metrics: readonly string[];
  run: Run;
  state: "queued" | "running" | "done" | "dropped";
  controller?: AbortController;
  timer?: TimerHandle;
  startedAt?: Date;
  result?: MeasurementResult;
}

const tagKey = (t: AnalysisTag) =>
  JSON.stringify([t.revision, t.stepIndex, t.rolloutStartedAt, t.dueAt, t.generation]);

/**
 * The tag of the tick due for `status`, or undefined when no tick is due at `now` (or the status lacks what a tag
 * needs).
 */
export function analysisTag(
  spec: RolloutSpec,
  status: RolloutStatus | undefined,
  generation: number,
  now: Date,
): AnalysisTag | undefined {
  const due = nextAnalysisAt(spec, status);
  if (!due || now.getTime() < due.getTime() || !status?.canaryRevision) return undefined;
  return {
    revision: status.canaryRevision,
    stepIndex: status.currentStepIndex ?? 0,
    rolloutStartedAt: status.rolloutStartedAt ?? "",
    dueAt: due.toISOString(),
    generation,
  };
}

/**
 * One measurement per Rollout key at a time, at most `concurrency` (C) running per lane. Results wait until
 * {@link take}n for the same tag; a request for another tag supersedes them.
 *
 * Fair between namespaces (tenants sharing one Prometheus): a namespace runs at most ⌈C/2⌉ measurements of a
 * lane, and a free slot goes to the waiting namespace that runs the fewest there (ties: turns, each namespace's
 * own requests in order). Bound: a measurement of a namespace that runs none in the lane starts at once while one
 * other namespace floods it, and otherwise within one measurement deadline (every running measurement ends by
 * then) as long as fewer than C namespaces running nothing wait before it — however many slow measurements the
 * other namespaces queue.
 */
export class AnalysisScheduler {
  readonly #o: AnalysisSchedulerOptions;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #jobs = new Map<string, Job>();
  readonly #waiting = new Map<string, FairQueue<Job>>();
  readonly #running = new Map<string, number>();
  /** Running measurements by lane, then namespace. */
  readonly #runningByNamespace = new Map<string, Map<string, number>>();
  /** Most measurements one namespace runs in a lane. */
  readonly #perNamespace: number;

  constructor(options: AnalysisSchedulerOptions) {
    if (!(options.concurrency >= 1))
      throw new Error(`analysis concurrency must be >= 1: ${options.concurrency}`);
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? (() => this.#clock.now());
    this.#perNamespace = Math.max(1, Math.ceil(options.concurrency / 2));
  }

  /** Upper bound for one measurement (ms). */
  get timeoutMs(): number {
    return this.#o.timeoutMs;
  }

  /**
   * Starts (or queues) a measurement of `key` for `tag`. No-op when one for the same tag is queued, running or
   * finished; one for another tag is aborted or its result discarded.
   */
  request(key: string, tag: AnalysisTag, run: Run, options: RequestOptions = {}): void {
    const k = tagKey(tag);
    const existing = this.#jobs.get(key);
    if (existing?.tagKey === k) return;
    if (existing) {
      this.#drop(existing);
      this.#o.onDiscard?.("superseded");
    }
    const job: Job = {
      key,
      namespace: key.slice(0, Math.max(0, key.indexOf("/"))),
      tagKey: k,
      lane: options.lane ?? "",
      metrics: options.metrics ?? [],
      run,
      state: "queued",
    };
    this.#jobs.set(key, job);
    const lane = this.#waiting.get(job.lane) ?? new FairQueue<Job>();
    lane.push(job.namespace, job);
    this.#waiting.set(job.lane, lane);
    this.#pump(job.lane);
  }

  /**
   * The reconciler's side of a tick: the result for the tick due now if it has landed (removed); otherwise starts
   * its measurement and says the Rollout waits for it. When the Deployment no longer runs the revision the status
   * is rolling out, the engine is about to restart the rollout: a result taken for the old revision is discarded,
   * never charged to the new one, and none is started.
   */
  tick(key: string, input: TickInput): TickOutcome {
    const tag = analysisTag(input.spec, input.status, input.generation, input.now);
    if (!tag) return { waiting: false };
    if (input.observedRevision !== tag.revision) {
      if (this.take(key, tag)) this.#o.onDiscard?.("revision-changed");
      else if (this.pending(key, tag)) {
        this.forget(key);
        this.#o.onDiscard?.("revision-changed");
      }
      return { waiting: false };
    }
    const result = this.take(key, tag);
    if (result) return { waiting: false, result };
    this.request(key, tag, input.run, {
      lane: input.spec.analysis.prometheus?.address ?? "",
      metrics: input.spec.analysis.metrics.map((m) => m.name),
    });
    return { waiting: true };
  }

  /**
   * The finished result of `key` for exactly `tag` (removed), or undefined. A result for another tag stays until a
   * request supersedes it: a reconcile on a cache that has not seen the latest status yet must not destroy it.
   */
  take(key: string, tag: AnalysisTag): MeasurementResult | undefined {
    const job = this.#jobs.get(key);
    if (job?.state !== "done" || job.tagKey !== tagKey(tag)) return undefined;
    this.#jobs.delete(key);
    return job.result;
  }

  /** True while a measurement of `key` for `tag` is queued or running. */
  pending(key: string, tag: AnalysisTag): boolean {
    const job = this.#jobs.get(key);
    return (
      job !== undefined && job.tagKey === tagKey(tag) && (job.state === "queued" || job.state === "running")
    );
  }

  /** Drops everything about `key` (Rollout deleted). */
  forget(key: string): void {
    const job = this.#jobs.get(key);
    if (job) this.#drop(job);
  }

  /** Aborts every measurement and drops every result (shutdown, lost leadership). */
  abortAll(): void {
    // Waiting ones first, so no freed slot starts one of them.
    const jobs = [...this.#jobs.values()].sort(
      (a, b) => Number(b.state === "queued") - Number(a.state === "queued"),
    );
    for (const job of jobs) this.#drop(job);
  }

  /** Measurements running now in `lane` for `namespace`. */
  runningIn(lane: string, namespace: string): number {
    return this.#runningByNamespace.get(lane)?.get(namespace) ?? 0;
  }

  /** Measurements running now (all lanes). */
  runningCount(): number {
    let n = 0;
    for (const c of this.#running.values()) n += c;
    return n;
  }

  #drop(job: Job): void {
    if (this.#jobs.get(job.key) === job) this.#jobs.delete(job.key);
    const was = job.state;
    job.state = "dropped";
    if (was === "queued") {
      this.#waiting.get(job.lane)?.remove(job.namespace, job);
    } else if (was === "running") {
      job.controller?.abort(new Error("analysis measurement superseded"));
      this.#release(job);
    }
  }

  #pump(lane: string): void {
    const waiting = this.#waiting.get(lane);
    while (waiting && waiting.size > 0 && (this.#running.get(lane) ?? 0) < this.#o.concurrency) {
      // The namespaces under their share that run the fewest measurements take the slot, in turns.
      const open = waiting.groups().filter((ns) => this.runningIn(lane, ns) < this.#perNamespace);
      if (open.length === 0) break;
      const fewest = Math.min(...open.map((ns) => this.runningIn(lane, ns)));
      const job = waiting.shift((ns) => this.runningIn(lane, ns) === fewest && open.includes(ns));
      if (!job) break;
      this.#start(job);
    }
    if (waiting?.size === 0) this.#waiting.delete(lane);
  }

  #start(job: Job): void {
    job.state = "running";
    job.controller = new AbortController();
    job.startedAt = new Date(this.#now());
    this.#running.set(job.lane, (this.#running.get(job.lane) ?? 0) + 1);
    const byNamespace = this.#runningByNamespace.get(job.lane) ?? new Map<string, number>();
    byNamespace.set(job.namespace, (byNamespace.get(job.namespace) ?? 0) + 1);
    this.#runningByNamespace.set(job.lane, byNamespace);
    job.timer = this.#clock.setTimeout(() => {
      const message = `analysis deadline exceeded (${this.#o.timeoutMs} ms)`;
      job.controller?.abort(new Error(message));
      this.#finish(job, this.#errors(job, message));
    }, this.#o.timeoutMs);
    let running: Promise<MetricMeasurement[]>;
    try {
      running = job.run(job.controller.signal);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (measurements) => this.#finish(job, measurements),
      (err: unknown) =>
        this.#finish(job, this.#errors(job, err instanceof Error ? err.message : String(err))),
    );
  }

  #errors(job: Job, error: string): MetricMeasurement[] {
    return job.metrics.map((metric) => ({ metric, value: null, error }));
  }

  #finish(job: Job, measurements: MetricMeasurement[]): void {
    if (job.state !== "running") return;
    job.state = "done";
    job.result = { measurements, startedAt: job.startedAt! };
    this.#release(job);
    this.#o.onResult(job.key);
  }

  #release(job: Job): void {
    if (job.timer) this.#clock.clearTimeout(job.timer);
    this.#running.set(job.lane, (this.#running.get(job.lane) ?? 1) - 1);
    if (this.#running.get(job.lane) === 0) this.#running.delete(job.lane);
    const byNamespace = this.#runningByNamespace.get(job.lane);
    const left = (byNamespace?.get(job.namespace) ?? 1) - 1;
    if (left > 0) byNamespace?.set(job.namespace, left);
    else byNamespace?.delete(job.namespace);
    if (byNamespace?.size === 0) this.#runningByNamespace.delete(job.lane);
    this.#pump(job.lane);
  }
}
