import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ServerClock } from "./server-clock.ts";

/** The `Date` header a server whose clock reads `serverMs` sends (second resolution). */
const dateHeader = (serverMs: number) => new Date(Math.floor(serverMs / 1000) * 1000).toUTCString();

describe("ServerClock", () => {
  it("is the local clock until an answer arrives", () => {
    const c = new ServerClock({ localNow: () => 5000 });
    assert.equal(c.known(), false);
    assert.equal(c.offsetMs(), 0);
    assert.equal(c.now(), 5000);
  });

  it("one answer bounds the offset to its second plus the round trip", () => {
    let local = 1_800_000_000_000;
    const c = new ServerClock({ localNow: () => local });
    // Server 40 s behind; the answer took 20 ms.
    c.observe(dateHeader(local + 10 - 40_000), local, local + 20);
    local += 20;
    assert.ok(Math.abs(c.offsetMs() + 40_000) <= 520, String(c.offsetMs()));
    assert.ok(c.uncertaintyMs() <= 510);
  });

  it("property: the true offset stays within the bounds, which shrink with answers; a stepped clock is re-learned", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -120_000, max: 120_000 }),
        fc.integer({ min: -120_000, max: 120_000 }),
        fc.array(
          fc.record({ gap: fc.integer({ min: 1, max: 3000 }), rtt: fc.integer({ min: 0, max: 200 }) }),
          {
            minLength: 20,
            maxLength: 80,
          },
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (offset, stepped, answers, stampAt) => {
          let local = 1_800_000_000_000;
          const c = new ServerClock({ localNow: () => local });
          const half = Math.floor(answers.length / 2);
          answers.forEach(({ gap, rtt }, i) => {
            const trueOffset = i < half ? offset : stepped;
            local += gap;
            const sent = local;
            const stamped = sent + Math.floor(rtt * stampAt);
            c.observe(dateHeader(stamped + trueOffset), sent, sent + rtt);
            local += rtt;
            const err = Math.abs(c.offsetMs() - trueOffset);
            // Within the stated bounds; after the step, older answers that still overlap the newest one may bias
            // the estimate by at most the step, and never beyond the newest answer's own second.
            const bound =
              i < half
                ? c.uncertaintyMs() + 1
                : Math.min(1000 + rtt, c.uncertaintyMs() + Math.abs(stepped - offset) + 1);
            assert.ok(err <= bound, `answer ${i}: off by ${err}, bound ${bound}`);
            assert.ok(c.uncertaintyMs() <= 600, `answer ${i}: ±${c.uncertaintyMs()}`);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("answers spread over a second boundary narrow the estimate well below a second", () => {
    let local = 1_800_000_000_000;
    const c = new ServerClock({ localNow: () => local });
    const offset = 12_345;
    for (let i = 0; i < 40; i++) {
      local += 137;
      c.observe(dateHeader(local + 2 + offset), local, local + 5);
    }
    assert.ok(Math.abs(c.offsetMs() - offset) <= 10, String(c.offsetMs()));
  });
});
