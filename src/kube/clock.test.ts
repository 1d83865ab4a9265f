// The system clock: a timer beyond Node's 2^31 − 1 ms limit waits at the limit instead of firing after 1 ms.
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "./clock.ts";

test("a 35-day timer (a long pause step's wake-up) does not fire at once", async () => {
  let fired = false;
  const handle = systemClock.setTimeout(
    () => {
      fired = true;
    },
    35 * 24 * 3600 * 1000,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  systemClock.clearTimeout(handle);
  assert.equal(fired, false, "Node runs a timer over 2^31 - 1 ms after 1 ms unless the clock caps it");
});
