// The load generator's runs: at most one per Idempotency-Key (a retried check call gets the same run back), a cap on
// runs at once, requests paced open-loop at the planned rate with a cap on requests in flight, and what was sent. A
// request the egress policy refused at connect time was never sent: it stops its run, and the report says why.
import { LOAD_OUTCOMES, type LoadOutcome, type LoadRunState } from "../api/loadgen.ts";
import { type LoadPlan, sendOffsetMs } from "./plan.ts";

/** What a run sent so far, as the check's answer and `GET /runs/<key>` say. */
export interface RunReport {
  /** The Idempotency-Key of the check call that started it. */
  run: string;
  state: LoadRunState;
  planned: { requests: number; rps: number; durationSeconds: number; service: string; port: number };
  /**
   * Requests sent, and those skipped because `maxInFlight` were still unanswered (never sent late). A request the
   * egress policy refused is in neither: it never left.
   */
  sent: number;
  skipped: number;
  /** Answers by status class (and timeouts, network failures). */
  outcomes: Record<LoadOutcome, number>;
  /** Requests sent per second of the run so far. */
  achievedRps: number;
  startedAt: string;
  finishedAt?: string;
  /** With state `refused`: why the egress policy refused the target at connect time. */
  refusal?: string;
}

/** How one request ended: its outcome, or refused by the egress policy before any byte was sent. */
export type SendResult = LoadOutcome | { refused: string };

/** Sends one request of a plan and says how it ended; never rejects. */
export type SendOne = (plan: LoadPlan, signal: AbortSignal) => Promise<SendResult>;

/** Options of {@link LoadRuns}. */
export interface LoadRunsOptions {
  /** Runs at once; one more is refused as busy. */
  maxRuns: number;
  /** Unanswered requests of one run; a request due beyond it is skipped. */
  maxInFlight: number;
  send: SendOne;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Finished runs remembered, so a late retry still gets its run's report rather than a second run. */
  keep?: number;
  /** Called once per answered request. */
  onOutcome?: (outcome: LoadOutcome) => void;
  /** Called once per skipped request. */
  onSkipped?: () => void;
  /** Called once per run the egress policy stopped, with its reason. */
  onRefused?: (key: string, reason: string) => void;
}

/** The answer to a start: a new run, the run this key already started, or busy. */
export type StartResult =
  | { kind: "started"; report: RunReport }
  | { kind: "existing"; report: RunReport }
  | { kind: "busy" };

interface Run {
  plan: LoadPlan;
  report: RunReport;
  startedMs: number;
  lastSentMs: number;
  abort: AbortController;
  done: Promise<void>;
}

const emptyOutcomes = (): Record<LoadOutcome, number> =>
  Object.fromEntries(LOAD_OUTCOMES.map((o) => [o, 0])) as Record<LoadOutcome, number>;

/** Every run of one load generator process. */
export class LoadRuns {
  readonly #o: Required<Omit<LoadRunsOptions, "onOutcome" | "onSkipped" | "onRefused">> &
    Pick<LoadRunsOptions, "onOutcome" | "onSkipped" | "onRefused">;
  /** Runs by key, oldest first (Map keeps insertion order): running ones and the last `keep` finished. */
  readonly #runs = new Map<string, Run>();
  #stopping = false;

  constructor(options: LoadRunsOptions) {
    this.#o = { now: Date.now, keep: 256, ...options };
  }

  /** Runs still sending. */
  active(): number {
    let n = 0;
    for (const r of this.#runs.values()) if (r.report.state === "running") n++;
    return n;
  }

  /** Starts `plan` under `key` unless that key already has a run or `maxRuns` are running. */
  start(key: string, plan: LoadPlan): StartResult {
    const existing = this.#runs.get(key);
    if (existing) return { kind: "existing", report: this.#snapshot(existing) };
    if (this.#stopping || this.active() >= this.#o.maxRuns) return { kind: "busy" };
    const startedMs = this.#o.now();
    const run: Run = {
      plan,
      startedMs,
      lastSentMs: startedMs,
      abort: new AbortController(),
      done: Promise.resolve(),
      report: {
        run: key,
        state: "running",
        planned: {
          requests: plan.requests,
          rps: plan.rps,
          durationSeconds: plan.durationMs / 1000,
          service: plan.service,
          port: plan.port,
        },
        sent: 0,
        skipped: 0,
        outcomes: emptyOutcomes(),
        achievedRps: 0,
        startedAt: new Date(startedMs).toISOString(),
      },
    };
    this.#runs.set(key, run);
    run.done = this.#drive(run);
    this.#forgetOld();
    return { kind: "started", report: this.#snapshot(run) };
  }

  /** The report of the run `key` started, if it is still remembered. */
  get(key: string): RunReport | undefined {
    const run = this.#runs.get(key);
    return run && this.#snapshot(run);
  }

  /** Every remembered run's report, oldest first. */
  list(): RunReport[] {
    return [...this.#runs.values()].map((r) => this.#snapshot(r));
  }

  /** Resolves when the run `key` has finished (at once for an unknown key). */
  async finished(key: string): Promise<void> {
    await this.#runs.get(key)?.done;
  }

  /** Stops every run (their reports say `stopped`) and waits for their requests to end; refuses new runs. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const runs = [...this.#runs.values()];
    for (const r of runs) r.abort.abort();
    await Promise.all(runs.map((r) => r.done));
  }

  /** Sends the plan's requests at their due times, open-loop: a late answer never delays the next request. */
  async #drive(run: Run): Promise<void> {
    const { plan, report, abort } = run;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < plan.requests && !abort.signal.aborted; i++) {
      const wait = run.startedMs + sendOffsetMs(i, plan.rps) - this.#o.now();
      if (wait > 0) await sleep(wait, abort.signal);
      if (abort.signal.aborted) break;
      if (inFlight.size >= this.#o.maxInFlight) {
        report.skipped++;
        this.#o.onSkipped?.();
        continue;
      }
      report.sent++;
      run.lastSentMs = this.#o.now();
      const p = this.#o.send(plan, abort.signal).then((result) => {
        if (typeof result === "string") {
          report.outcomes[result]++;
          this.#o.onOutcome?.(result);
          return;
        }
        report.sent--;
        if (report.refusal !== undefined) return;
        // The name now resolves somewhere refused (rebinding, an edited Service): nothing more goes there.
        report.refusal = result.refused;
        abort.abort();
        this.#o.onRefused?.(report.run, result.refused);
      });
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    report.state = report.refusal !== undefined ? "refused" : abort.signal.aborted ? "stopped" : "done";
    report.finishedAt = new Date(this.#o.now()).toISOString();
  }

  /** A copy of the report with the achieved rate: requests sent over the time their slots covered. */
  #snapshot(run: Run): RunReport {
    const { report, plan } = run;
    const end = report.state === "running" ? this.#o.now() : run.lastSentMs;
    const seconds = (Math.max(end, run.lastSentMs) - run.startedMs + 1000 / plan.rps) / 1000;
    const achievedRps = report.sent === 0 ? 0 : Math.round((report.sent / seconds) * 100) / 100;
    return { ...report, outcomes: { ...report.outcomes }, planned: { ...report.planned }, achievedRps };
  }

  /** Forgets the oldest finished runs beyond `keep`. */
  #forgetOld(): void {
    let finished = 0;
    for (const r of this.#runs.values()) if (r.report.state !== "running") finished++;
    for (const [key, r] of this.#runs) {
      if (finished <= this.#o.keep) break;
      if (r.report.state === "running") continue;
      this.#runs.delete(key);
      finished--;
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
