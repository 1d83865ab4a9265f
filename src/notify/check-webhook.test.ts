// A webhook check against a real loopback receiver: the same Idempotency-Key on every try, retries only on what may
// pass next time, a hanging receiver is a failure, the body never reaches the outcome.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { WebhookCheckSpec } from "../api/check-schema.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { callCheckWebhook, idempotencyKey } from "./check-webhook.ts";

const route = { egress: loopbackEgress(), trust: "tenant" as const };

const answers: number[] = [];
const seen: { path: string; key: string }[] = [];
const server = createServer(async (req, res) => {
  for await (const _ of req);
  seen.push({ path: req.url ?? "", key: String(req.headers["idempotency-key"] ?? "") });
  if (req.url === "/hang") return; // never answers
  if (req.url === "/reason") {
    // A receiver that opts in to telling its reason (Vireo's load generator), with a URL and a control character.
    res.writeHead(403, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        vireoMessage: "refused: see http://u:p@10.0.0.1/x?token=1 \u0007 here",
        other: "leak",
      }),
    );
    return;
  }
  res.writeHead(answers.shift() ?? 200).end("body-that-must-not-leak");
});
let base = "";
const noSleep = async () => {};
const payload = {
  name: "r",
  namespace: "n",
  phase: "Progressing",
  checksum: "c",
  metadata: {},
  point: "preRollout",
  check: "x",
};
const hook = (over: Partial<WebhookCheckSpec> = {}): WebhookCheckSpec => ({
  url: `${base}/hook`,
  timeout: "1s",
  retries: 2,
  ...over,
});

describe("callCheckWebhook", () => {
  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("retries 5xx with the same Idempotency-Key and passes on the 2xx", async () => {
    seen.length = 0;
    answers.push(503, 500, 202);
    const out = await callCheckWebhook(
      route,
      `${base}/hook`,
      hook(),
      payload,
      "k1",
      new AbortController().signal,
      noSleep,
    );
    assert.deepEqual(out, { passed: true, message: "check webhook: 2xx" });
    assert.deepEqual(
      seen.map((s) => s.key),
      ["k1", "k1", "k1"],
    );
  });

  it("fails at once on a 4xx other than 408/429, with the outcome class only", async () => {
    seen.length = 0;
    answers.push(403);
    const out = await callCheckWebhook(
      route,
      `${base}/hook`,
      hook(),
      payload,
      "k2",
      new AbortController().signal,
      noSleep,
    );
    assert.equal(out.passed, false);
    assert.equal(seen.length, 1);
    // One try made, so no "(after 3 tries)" although retries allowed 3.
    assert.equal(out.message, "check webhook: 4xx");
    assert.ok(!out.message.includes("body-that-must-not-leak"));
  });

  it("shows a refusal's reason only when the receiver opted in with vireoMessage, sanitised", async () => {
    seen.length = 0;
    const out = await callCheckWebhook(
      route,
      `${base}/reason`,
      hook(),
      payload,
      "k4",
      new AbortController().signal,
      noSleep,
    );
    assert.equal(out.passed, false);
    assert.equal(seen.length, 1, "a 403 is not retried");
    assert.equal(out.message, "check webhook: 4xx: refused: see http://10.0.0.1/x here");
    assert.ok(!out.message.includes("leak"));
  });

  it("a receiver that never answers is a failure after every try timed out", async () => {
    seen.length = 0;
    const out = await callCheckWebhook(
      route,
      `${base}/hang`,
      hook({ timeout: "200ms", retries: 1 }),
      payload,
      "k3",
      new AbortController().signal,
      noSleep,
    );
    assert.equal(out.passed, false);
    assert.equal(seen.length, 2);
    assert.match(out.message, /after 2 tries/);
  });

  it("keys differ per run attempt and are stable for the same run", () => {
    const a = idempotencyKey(["uid", "2026-01-01T00:00:00Z", "step", 2, "e2e", 1]);
    assert.equal(a, idempotencyKey(["uid", "2026-01-01T00:00:00Z", "step", 2, "e2e", 1]));
    assert.notEqual(a, idempotencyKey(["uid", "2026-01-01T00:00:00Z", "step", 2, "e2e", 2]));
    assert.match(a, /^[0-9a-f]{32}$/);
  });
});
