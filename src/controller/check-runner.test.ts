// The check runner: Job creates tried once, a refusal held as the run's result (with the API server's reason) until
// status records the run's failure; webhook URLs from Secrets called only when the Secret opted in and the URL is
// allowed (otherwise the run fails saying why, never with the URL); analysis check calls with one Idempotency-Key per
// tick, across a restart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CheckRun } from "../api/check-schema.ts";
import { ALLOW_REFERENCE_LABEL } from "../api/constants.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import type { SecretContents } from "../api/secret-ref.ts";
import { type CheckJobPort, CheckRunner } from "./check-runner.ts";

const spec = {
  checks: [{ name: "e2e", job: { serviceAccountName: "tester", timeout: "5m", spec: { template: {} } } }],
} as unknown as RolloutSpec;
const rollout = { metadata: { namespace: "shop", name: "checkout", uid: "u1" }, spec } as unknown as Rollout;
const owner = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "checkout", uid: "u1" };
const ref = { name: "e2e", point: "step" as const, step: 1, attempt: 1 };
const attemptId = "2026-12-01T12:00:00.000Z/rev-2";

function runner(create: CheckJobPort["create"]) {
  const woken: string[] = [];
  let creates = 0;
  const jobs: CheckJobPort = {
    jobsAllowed: async () => true,
    list: async () => [],
    create: async (...a) => {
      creates++;
      return create(...a);
    },
    delete: async () => {},
  };
  const r = new CheckRunner({
    jobs,
    egress: undefined as never,
    allowedUrls: [],
    readSecret: async () => undefined,
    concurrency: 1,
    wake: (k) => woken.push(k),
  });
  return { r, woken, creates: () => creates };
}

const status = (phase: CheckRun["phase"]): RolloutStatus => ({
  rolloutStartedAt: "2026-12-01T12:00:00.000Z",
  canaryRevision: "rev-2",
  checks: [
    { ...ref, kind: "job", phase, startedAt: "2026-12-01T12:00:01Z", jobRequestedAt: "2026-12-01T12:00:01Z" },
  ],
});

describe("CheckRunner Job creates", () => {
  it("holds a refused create as the run's failed result with the reason, once, and wakes the Rollout", async () => {
    const { r, woken, creates } = runner(async () => {
      throw new Error('jobs.batch is forbidden: exceeded quota: "pods"');
    });
    await r.act(rollout, spec, owner, { type: "CreateCheckJob", run: ref, attemptId, revision: "rev-2" });
    assert.equal(creates(), 1);
    assert.deepEqual(woken, ["shop/checkout"]);
    // The dispatch right after (same reconcile) keeps it: the run is still Pending in status.
    r.dispatch(rollout, spec, status("Pending"));
    const seen = await r.observe({ ...rollout, status: status("Pending") }, spec);
    assert.equal(seen?.results.length, 1);
    assert.equal(seen?.results[0]?.passed, false);
    assert.match(seen?.results[0]?.message ?? "", /^could not create its Job: .*exceeded quota/);
    assert.equal(seen?.results[0]?.attemptId, attemptId);
    // Once status records the failure, the result is forgotten.
    r.dispatch(rollout, spec, status("Failed"));
    assert.equal((await r.observe({ ...rollout, status: status("Failed") }, spec))?.results.length, 0);
  });

  it("holds nothing when the create succeeds (or adopts the Job)", async () => {
    const { r, woken } = runner(async () => "adopted");
    await r.act(rollout, spec, owner, { type: "CreateCheckJob", run: ref, attemptId, revision: "rev-2" });
    assert.deepEqual(woken, []);
    assert.equal((await r.observe({ ...rollout, status: status("Pending") }, spec))?.results.length, 0);
  });
});

describe("CheckRunner webhook URLs from Secrets (urlFrom)", () => {
  const TOKEN_URL = "https://hooks.example.com/smoke?token=s3cr3t";
  const hookSpec = (key?: string) =>
    ({
      checks: [
        {
          name: "smoke",
          webhook: {
            urlFrom: { secretKeyRef: { name: "hook", ...(key ? { key } : {}) } },
            timeout: "1s",
            retries: 0,
          },
        },
      ],
    }) as unknown as RolloutSpec;
  const running: RolloutStatus = {
    rolloutStartedAt: "2026-12-01T12:00:00.000Z",
    canaryRevision: "rev-2",
    checks: [
      {
        name: "smoke",
        point: "preRollout",
        attempt: 1,
        kind: "webhook",
        phase: "Running",
        startedAt: "2026-12-01T12:00:01Z",
      },
    ],
  };

  /** Dispatches the run against `secret` and returns the calls made and the result held. */
  async function run(secret: SecretContents | undefined, key?: string) {
    const calls: string[] = [];
    const reads: string[] = [];
    let wake: () => void = () => {};
    const woken = new Promise<void>((r) => {
      wake = r;
    });
    const r = new CheckRunner({
      jobs: undefined as never,
      egress: undefined as never,
      allowedUrls: ["https://hooks.example.com/"],
      readSecret: async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return secret;
      },
      concurrency: 1,
      wake: () => wake(),
      call: async (_route, url) => {
        calls.push(url);
        return { passed: true, message: "check webhook: 2xx" };
      },
    });
    const spec = hookSpec(key);
    r.dispatch({ ...rollout, spec }, spec, running);
    await woken;
    const seen = await r.observe({ ...rollout, spec, status: running }, spec);
    return { calls, reads, result: seen?.results[0] };
  }
  const labelled = { [ALLOW_REFERENCE_LABEL]: "true" };

  it("calls the URL of an opted-in Secret of the Rollout's namespace", async () => {
    const { calls, reads, result } = await run({ data: { url: TOKEN_URL }, labels: labelled });
    assert.deepEqual(calls, [TOKEN_URL]);
    assert.deepEqual(reads, ["shop/hook"]);
    assert.equal(result?.passed, true);
    const other = await run({ data: { hook: ` ${TOKEN_URL}\n` }, labels: labelled }, "hook");
    assert.deepEqual(other.calls, [TOKEN_URL], "the named key, trimmed");
  });

  it("fails without a call, saying why and never the URL: missing, unlabelled, no key, not allowed, not http(s)", async () => {
    const cases: [SecretContents | undefined, RegExp][] = [
      [undefined, /^check webhook: Secret shop\/hook not found$/],
      [
        { data: { url: TOKEN_URL }, labels: {} },
        /^check webhook: Secret shop\/hook lacks label vireo\.dev\/allow-reference=true/,
      ],
      [{ data: {}, labels: labelled }, /^check webhook: Secret shop\/hook has no key url$/],
      [
        { data: { url: "https://elsewhere.example.com/x?token=s3cr3t" }, labels: labelled },
        /^check webhook: the URL in Secret shop\/hook is not allowed by the controller's --allowed-check-urls$/,
      ],
      [{ data: { url: "file:///etc/passwd" }, labels: labelled }, /must be an http\(s\) URL$/],
    ];
    for (const [secret, reason] of cases) {
      const { calls, result } = await run(secret);
      assert.deepEqual(calls, [], String(reason));
      assert.equal(result?.passed, false);
      assert.match(result?.message ?? "", reason);
      assert.ok(!/s3cr3t|example\.com|passwd/.test(result?.message ?? ""), result?.message);
    }
  });
});

describe("CheckRunner analysis check calls", () => {
  const hookSpec = {
    checks: [{ name: "load", webhook: { url: "http://receiver.test/tick", timeout: "1s", retries: 0 } }],
  } as unknown as RolloutSpec;
  const tickStatus = (tick: number): RolloutStatus => ({
    rolloutStartedAt: "2026-12-01T12:00:00.000Z",
    canaryRevision: "rev-2",
    phase: "Progressing",
    checks: [
      {
        name: "load",
        point: "analysis",
        kind: "webhook",
        phase: "Running",
        attempt: tick,
        startedAt: "2026-12-01T12:00:05Z",
      },
    ],
  });
  /** A runner whose calls record (tick, key) and never answer, as a controller killed mid-call. */
  function calling(seen: { tick: unknown; key: string }[]) {
    return new CheckRunner({
      jobs: undefined as never,
      egress: undefined as never,
      allowedUrls: ["http://receiver.test/"],
      readSecret: async () => undefined,
      concurrency: 4,
      wake: () => {},
      call: (_route, _url, _hook, payload, key) => {
        seen.push({ tick: payload.tick, key });
        return new Promise(() => {});
      },
    });
  }

  it("sends one key per tick: the same key when a restarted controller repeats a tick, a new one at the next tick", async () => {
    const seen: { tick: unknown; key: string }[] = [];
    calling(seen).dispatch(rollout, hookSpec, tickStatus(3));
    // A new controller (the first one died with the call in flight) sees the same run in status.
    const restarted = calling(seen);
    restarted.dispatch(rollout, hookSpec, tickStatus(3));
    restarted.dispatch(rollout, hookSpec, tickStatus(3)); // in flight: not sent again by the same controller
    restarted.dispatch(rollout, hookSpec, tickStatus(4));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      seen.map((s) => s.tick),
      [3, 3, 4],
    );
    assert.equal(seen[0]!.key, seen[1]!.key);
    assert.notEqual(seen[1]!.key, seen[2]!.key);
  });
});
