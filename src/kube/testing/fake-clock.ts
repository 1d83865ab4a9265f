// Deterministic virtual clock for tests: time moves only when the test calls advance().
import type { Clock, TimerHandle } from "../clock.ts";

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** A {@link Clock} whose timers fire only inside {@link FakeClock.advance}, in deadline order. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, FakeTimer>();

  /** @param start initial epoch milliseconds */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete((handle as { id: number }).id);
  }

  /** Number of timers still pending. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in (deadline, creation) order, including ones they create. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers.values()) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }

  /** Advances by `ms` in `steps` slices, yielding to the microtask/macrotask queue between slices. */
  async advanceAsync(ms: number, steps = 1): Promise<void> {
    for (let i = 0; i < steps; i++) {
      this.advance(ms / steps);
      await new Promise((r) => setImmediate(r));
    }
  }
}
