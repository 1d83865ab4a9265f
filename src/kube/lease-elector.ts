// Leader election on a coordination.k8s.io/v1 Lease (client-go semantics; client-node ships no elector).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Clock, jitter, sleep, systemClock } from "./clock.ts";
import { classifyError, KubeErrorKind } from "./errors.ts";
import { type Lease, type LeaseApi, microTime } from "./kube-apis.ts";
import { type KubeLogger, silentLogger } from "./logger-port.ts";

/** Options for {@link LeaseElector}; durations default to controller-runtime's 15 s / 10 s / 2 s. */
export interface LeaseElectorOptions {
  /** Lease calls ({@link leaseApi} over the clients). */
  coordination: LeaseApi;
  namespace: string;
  /** Lease name (e.g. `vireo-controller-leader`). */
  name: string;
  /** Explicit identity; default `<podName>_<8 hex>`. */
  identity?: string;
  /** Pod name used to build the identity (default: the host name, which is the pod name in Kubernetes). */
  podName?: string;
  /** How long non-leaders wait after the last observed change before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before giving up leadership (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts (default 2 s). */
  retryPeriodMs?: number;
  /** Called when this instance becomes leader; `signal` aborts when leadership ends. */
  onStartedLeading?: (signal: AbortSignal) => void;
  /** Called when this instance stops leading (lost, failed to renew, or released). */
  onStoppedLeading?: () => void;
  /** Called when another holder is observed. */
  onNewLeader?: (identity: string) => void;
  /**
   * Called the moment the leader learns its Lease was deleted, emptied or taken (from {@link leaseEvents} or a
   * renew): writes are fenced from then until a renew re-establishes the Lease, and whatever is in flight should be
   * aborted now (`clients.abortInFlight`). If the Lease was taken, {@link onStoppedLeading} follows.
   */
  onInterrupted?: (reason: string) => void;
  /**
   * Change notifications for this Lease (an informer watching it by name). The leader reacts within the watch's
   * latency instead of at its next renew, up to `retryPeriod` later, while a successor may already be writing.
   */
  leaseEvents?: LeaseEvents;
  clock?: Clock;
  logger?: KubeLogger;
}

type Attempt = "acquired" | "held" | "failed";

/** The subscription surface of an informer of Leases (see {@link LeaseElectorOptions.leaseEvents}). */
export interface LeaseEvents {
  onAdd(fn: (lease: Lease) => void): unknown;
  onUpdate(fn: (old: Lease, lease: Lease) => void): unknown;
  onDelete(fn: (lease: Lease) => void): unknown;
}

/**
 * Lease-based leader election.
 * - Acquires when the Lease is held by us, or has not changed for the holder's leaseDuration as measured on *our*
 *   clock from when we last saw it change (immune to clock skew, as client-go).
 * - A deleted or emptied Lease is not an expired one: a candidate that saw another holder renew waits a full lease
 *   duration after the Lease disappears or empties (client-go takes it at once, while the old leader's fence may
 *   still hold: two leaders). Only a candidate that never saw a holder (a fresh install) creates a missing Lease
 *   at once. The leader itself re-creates its deleted Lease at once — nobody else may take it for a lease duration —
 *   after fencing its writes the moment it learned of the deletion (see {@link LeaseElectorOptions.leaseEvents}).
 * - Writes use the read resourceVersion: a 409 means another candidate won the race.
 * - The leader renews every retryPeriod; if no renew succeeds within renewDeadline it stops leading.
 * - {@link release} empties holderIdentity and sets leaseDurationSeconds=1 so a successor needn't wait.
 * After losing leadership the elector keeps competing; a controller that prefers to exit can do so in
 * `onStoppedLeading` (controller-runtime's choice).
 */
export class LeaseElector {
  /** This candidate's identity, as written to `spec.holderIdentity`. */
  readonly identity: string;
  readonly #api: LeaseApi;
  readonly #ns: string;
  readonly #name: string;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #clock: Clock;
  readonly #log: KubeLogger;
  readonly #opts: LeaseElectorOptions;

  #leading = false;
  #leadership: AbortController | undefined;
  #lastRenew = 0;
  /** When the request that last wrote the lease as ours was sent. */
  #acquiredAt = 0;
  #observedRv: string | undefined;
  #observedAt = 0;
  #observedHolder: string | undefined;
  /** The lease duration last read from the Lease, for how long an absent Lease still counts as its last holder's. */
  #observedDurationMs: number;
  /** Set while the leader's Lease is in doubt (deleted, emptied, taken): writes are fenced until a renew succeeds. */
  #interrupted: string | undefined;
  /** Until when (our clock) the last read Lease stays another's, from {@link #stillClaimed}. */
  #claimedUntil = 0;
  /** Counts interruptions, so a renew that was already under way when one arrived does not lift it. */
  #interruptions = 0;
  /** Cuts the loop's current sleep short (a Lease event asks for a renew now). */
  #wake: AbortController | undefined;
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LeaseElectorOptions) {
    this.#opts = options;
    this.#api = options.coordination;
    this.#ns = options.namespace;
    this.#name = options.name;
    this.identity = options.identity ?? makeIdentity(options.podName ?? hostname());
    this.#leaseMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryMs = options.retryPeriodMs ?? 2_000;
    if (!(this.#leaseMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryMs)) {
      throw new RangeError("lease election needs leaseDuration > renewDeadline > retryPeriod");
    }
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#observedDurationMs = this.#leaseMs;
    const events = options.leaseEvents;
    if (events) {
      const changed = (lease: Lease) => {
        const holder = lease.spec?.holderIdentity ?? "";
        if (holder !== this.identity) this.#interrupt(holder ? `Lease taken by ${holder}` : "Lease emptied");
      };
      events.onAdd(changed);
      events.onUpdate((_old, lease) => changed(lease));
      events.onDelete(() => this.#interrupt("Lease deleted"));
    }
  }

  /** Whether this instance currently holds the lease. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** Starts competing in the background (idempotent). */
  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    const signal = this.#stop.signal;
    this.#loop = this.#run(signal).catch((err: unknown) => {
      if (!signal.aborted) this.#log.error({ err }, "leader election loop crashed");
    });
  }

  /**
   * Until when this instance may act as leader: the last successful renew's send time plus the renew deadline.
   * A successor can take the lease only a full lease duration after it saw our last renew, which is later, so a
   * write checked against this bound cannot overlap with the successor's — even if this process was frozen
   * (SIGSTOP, a VM pause) and its timers have not yet noticed. 0 when not leading.
   */
  heldUntil(): number {
    return this.#leading && this.#interrupted === undefined ? this.#lastRenew + this.#renewDeadlineMs : 0;
  }

  /**
   * Stops competing. With `release` (default true) a current leader hands the lease back first so the
   * successor takes over immediately; without it the lease simply expires (what a crash looks like).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stop?.abort(new Error("elector stopped"));
    await this.#loop;
    this.#loop = undefined;
    if (!this.#leading) return;
    if (options.release ?? true) await this.#release();
    else this.#stepDown("stopped");
  }

  /**
   * Stops competing and gives up the lease if we hold it (graceful shutdown).
   * @returns true when the Lease was handed back
   */
  async release(): Promise<boolean> {
    const wasLeading = this.#leading;
    this.#stop?.abort(new Error("elector stopped"));
    await this.#loop;
    this.#loop = undefined;
    return wasLeading ? this.#release() : false;
  }

  async #release(): Promise<boolean> {
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#ns });
      if (lease.spec?.holderIdentity !== this.identity) return false;
      const now = microTime(this.#clock.now());
      await this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#ns,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
          },
        },
      });
      this.#log.info(
        { identity: this.identity, lease: `${this.#ns}/${this.#name}` },
        "released leader lease",
      );
      return true;
    } catch (err) {
      this.#log.warn({ err: classifyError(err, this.#ctx("update")) }, "failed to release leader lease");
      return false;
    } finally {
      this.#stepDown("released");
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.#leading) {
        if ((await this.#tryAcquireOrRenew(signal)) === "acquired") {
          this.#becomeLeader();
          continue;
        }
        // A claim that runs out before the next retry (a released Lease's 1 s) is tried the moment it does.
        const untilFree = this.#claimedUntil - this.#clock.now();
        const pause =
          untilFree > 0 ? Math.min(untilFree + 1, jitter(this.#retryMs, 0.2)) : jitter(this.#retryMs, 0.2);
        await sleep(this.#clock, pause, signal).catch(() => {});
        continue;
      }
      // While the Lease is in doubt writes are fenced: retry the renew soon, not a full retry period later.
      const pause = this.#interrupted === undefined ? this.#retryMs : jitter(this.#retryMs / 10, 0.2);
      this.#wake = new AbortController();
      await sleep(this.#clock, pause, AbortSignal.any([signal, this.#wake.signal])).catch(() => {});
      if (signal.aborted) return;
      await this.#renew(signal);
    }
  }

  async #renew(stop: AbortSignal): Promise<void> {
    const deadline = this.#lastRenew + this.#renewDeadlineMs;
    const remaining = deadline - this.#clock.now();
    // Abort a hung request at the renew deadline instead of waiting for the client's default timeout.
    const timeout = new AbortController();
    const timer = this.#clock.setTimeout(
      () => timeout.abort(new Error("renew deadline")),
      Math.max(0, remaining),
    );
    let result: Attempt;
    // The lease counts from when the renew was sent, not from when its answer arrived.
    const sentAt = this.#clock.now();
    const interruptions = this.#interruptions;
    try {
      result = await this.#tryAcquireOrRenew(AbortSignal.any([stop, timeout.signal]));
    } finally {
      this.#clock.clearTimeout(timer);
    }
    if (stop.aborted) return;
    if (result === "acquired") {
      this.#lastRenew = sentAt;
      // Only a renew that read the Lease after the latest interruption proves it is ours again.
      if (this.#interrupted !== undefined && this.#interruptions === interruptions) {
        this.#log.info({ identity: this.identity, after: this.#interrupted }, "leader Lease re-established");
        this.#interrupted = undefined;
      }
    } else if (result === "held") {
      this.#stepDown("lease taken by another holder");
    } else if (this.#clock.now() >= deadline) {
      this.#stepDown(`failed to renew within ${this.#renewDeadlineMs} ms`);
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    let lease: Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#ns }, signal);
    } catch (err) {
      const e = classifyError(err, this.#ctx("get"));
      if (e.kind !== KubeErrorKind.NotFound) return this.#failed(e, signal);
      if (this.#leading) this.#interrupt("Lease deleted", false);
      // Absent counts as a state of its own: the wait below starts when we first saw it gone.
      if (this.#stillClaimed(ABSENT, "", this.#observedDurationMs)) return "held";
      return this.#create(signal);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    if (this.#leading && holder !== this.identity)
      this.#interrupt(holder ? `Lease taken by ${holder}` : "Lease emptied", false);
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
    if (holder) this.#observedDurationMs = durationMs;
    if (this.#stillClaimed(lease.metadata?.resourceVersion, holder, durationMs)) return "held";
    const now = this.#clock.now();
    const micro = microTime(now);
    const ours = holder === this.identity;
    const body: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
        renewTime: micro,
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : micro,
        leaseTransitions: ours ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      // `body.metadata.resourceVersion` makes this a compare-and-swap: 409 if anyone wrote since our read.
      const updated = await this.#api.replaceNamespacedLease(
        { name: this.#name, namespace: this.#ns, body },
        signal,
      );
      this.#observe(updated, now);
      return "acquired";
    } catch (err) {
      const e = classifyError(err, this.#ctx("update"));
      if (e.kind === KubeErrorKind.Conflict) return "held";
      return this.#failed(e, signal);
    }
  }

  async #create(signal: AbortSignal): Promise<Attempt> {
    const now = this.#clock.now();
    const micro = microTime(now);
    try {
      const created = await this.#api.createNamespacedLease(
        {
          namespace: this.#ns,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.#name, namespace: this.#ns },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
              acquireTime: micro,
              renewTime: micro,
              leaseTransitions: 0,
            },
          },
        },
        signal,
      );
      this.#observe(created, now);
      return "acquired";
    } catch (err) {
      const e = classifyError(err, this.#ctx("create"));
      if (e.kind === KubeErrorKind.AlreadyExists || e.kind === KubeErrorKind.Conflict) return "held";
      return this.#failed(e, signal);
    }
  }

  /**
   * Records what a read showed and says whether someone else may still be leading: the holder — or, for an empty
   * or absent Lease, the last holder we saw renew — is another instance, and the Lease has changed within its
   * lease duration (measured on our clock since we saw it change).
   */
  #stillClaimed(rv: string | undefined, holder: string, durationMs: number): boolean {
    const now = this.#clock.now();
    if (rv !== this.#observedRv) {
      this.#observedRv = rv;
      this.#observedAt = now;
    }
    if (holder && holder !== this.#observedHolder) {
      this.#observedHolder = holder;
      if (holder !== this.identity) this.#opts.onNewLeader?.(holder);
    }
    const claimant = holder || this.#observedHolder;
    this.#claimedUntil =
      claimant !== undefined && claimant !== this.identity ? this.#observedAt + durationMs : 0;
    return now < this.#claimedUntil;
  }

  /**
   * The leader's Lease is in doubt: fence writes now, have in-flight requests aborted, and renew at once.
   * @param fromEvent false when a renew's own read found it: the write that follows is based on that read.
   */
  #interrupt(reason: string, fromEvent = true): void {
    if (!this.#leading) return;
    if (fromEvent) this.#interruptions++;
    if (this.#interrupted !== undefined) return;
    this.#interrupted = reason;
    this.#log.warn({ identity: this.identity, reason }, "leader Lease in doubt: writes fenced until renewed");
    this.#opts.onInterrupted?.(reason);
    this.#wake?.abort();
  }

  #observe(lease: Lease, now: number): void {
    this.#acquiredAt = now;
    this.#observedRv = lease.metadata?.resourceVersion;
    this.#observedAt = now;
    this.#observedHolder = this.identity;
  }

  #failed(err: unknown, signal: AbortSignal): Attempt {
    if (!signal.aborted) this.#log.warn({ err, identity: this.identity }, "leader election request failed");
    return "failed";
  }

  #becomeLeader(): void {
    this.#leading = true;
    this.#lastRenew = this.#acquiredAt;
    this.#leadership = new AbortController();
    this.#log.info({ identity: this.identity, lease: `${this.#ns}/${this.#name}` }, "became leader");
    this.#opts.onStartedLeading?.(this.#leadership.signal);
  }

  #stepDown(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#interrupted = undefined;
    this.#leadership?.abort(new Error(`leadership ended: ${why}`));
    this.#leadership = undefined;
    this.#log.warn({ identity: this.identity, reason: why }, "stopped leading");
    this.#opts.onStoppedLeading?.();
  }

  #ctx(verb: string) {
    return { verb, resource: "leases.coordination.k8s.io", namespace: this.#ns, name: this.#name };
  }
}

/** The resourceVersion an absent Lease is recorded under (a real one is never empty). */
const ABSENT = "";

/** `<podName>_<8 random hex>`: unique per process even when a pod restarts with the same name. */
export function makeIdentity(podName: string): string {
  return `${podName}_${randomBytes(4).toString("hex")}`;
}
