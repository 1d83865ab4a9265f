import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeApiError, KubeErrorKind } from "./errors.ts";
import { withRetry } from "./retry.ts";
import { FakeClock } from "./testing/fake-clock.ts";

/** Lets pending promise callbacks run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe("withRetry", () => {
  it("waits the server's Retry-After in full, beyond its own 1 s backoff cap, before retrying", async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    const done = withRetry(
      async () => {
        calls.push(clock.now());
        if (calls.length === 1)
          throw new KubeApiError(KubeErrorKind.TooManyRequests, "throttled", {
            status: 429,
            retryAfterSeconds: 8,
          });
        return "ok";
      },
      { clock },
    );
    await flush();
    assert.equal(calls.length, 1);
    clock.advance(7_900);
    await flush();
    assert.equal(calls.length, 1, "no retry before the 8 s the server asked for");
    clock.advance(200);
    await flush();
    assert.equal(await done, "ok");
    assert.equal((calls[1] as number) - (calls[0] as number) >= 8000, true);
  });

  it("caps an absurd Retry-After at a minute", async () => {
    const clock = new FakeClock();
    let n = 0;
    const done = withRetry(
      async () => {
        if (n++ === 0)
          throw new KubeApiError(KubeErrorKind.ServerError, "busy", {
            status: 503,
            retryAfterSeconds: 86_400,
          });
        return n;
      },
      { clock },
    );
    await flush();
    clock.advance(60_000);
    await flush();
    assert.equal(await done, 2);
  });
});
