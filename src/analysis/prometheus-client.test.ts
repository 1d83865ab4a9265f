import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { AddressPolicy } from "../net/address-policy.ts";
import { Egress } from "../net/egress.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { PrometheusClient, PrometheusQueryError, parseQueryResponse } from "./prometheus-client.ts";
import {
  type FakeAnswer,
  type FakePrometheus,
  promError,
  type RecordedQuery,
  scalar,
  startFakePrometheus,
  vector,
} from "./testing/prom-server.ts";

const EGRESS = loopbackEgress();

const TOKEN = "tok-3f9a1c77-very-secret";
const PASSWORD = "pw-8d2e-very-secret";

/** Routes by the query text, so one server serves every case. */
const ANSWERS: Record<string, FakeAnswer> = {
  vec: { body: vector("99.12") },
  scal: { body: scalar("1") },
  nan: { body: vector("NaN") },
  inf: { body: vector("+Inf") },
  ninf: { body: vector("-Inf") },
  empty: { body: vector() },
  many: { body: vector("1", "2", "6") },
  manynan: { body: vector("NaN", "4", "+Inf") },
  allnan: { body: vector("NaN", "NaN") },
  matrix: { body: { status: "success", data: { resultType: "matrix", result: [] } } },
  string: { body: { status: "success", data: { resultType: "string", result: [1, "x"] } } },
  bad: { status: 400, body: promError("bad_data", 'invalid parameter "query": 1:5: parse error') },
  exec: { status: 422, body: promError("execution", "many-to-many matching not allowed") },
  unavailable: { status: 503, text: "upstream connect error" },
  html: { status: 200, text: "<html>login</html>" },
  slow: { delayMs: 1500, body: vector("1") },
  garbage: { body: vector("abc") },
  // A hostile or misconfigured server trying to get its words into status, Events and conditions.
  echo: { status: 400, body: promError("bad_data", "MARKER-envelope-text") },
  echotype: { status: 422, body: promError("Execution <b>MARKER</b>", "x") },
  longtype: { status: 422, body: promError("a".repeat(33), "x") },
  echo503: { status: 503, text: "MARKER-plain-text from a proxy" },
  echo200: { status: 200, text: '{"status":"weird","data":"MARKER-json"}' },
  echotypeof: { body: { status: "success", data: { resultType: "MARKER-type", result: [] } } },
  echosample: { body: vector("MARKER-sample") },
  // The issue's answer: 85,544 series (a per-pod-and-path histogram left unaggregated), ~15 MiB.
  huge: { body: vector(...Array.from({ length: 85_544 }, (_, i) => String(i % 7))) },
  thousand: { body: vector(...Array.from({ length: 1000 }, () => "1")) },
  // One series whose labels alone exceed the byte limit.
  fat: {
    body: {
      status: "success",
      data: { resultType: "vector", result: [{ metric: { x: "y".repeat(5 << 20) }, value: [1, "1"] }] },
    },
  },
};

const queryOf = (r: RecordedQuery) => r.params.query ?? "";

describe("PrometheusClient against a loopback Prometheus", () => {
  let prom: FakePrometheus;
  let client: PrometheusClient;

  before(async () => {
    prom = await startFakePrometheus((q) => ANSWERS[queryOf(q)] ?? { status: 404, text: "no route" });
    client = new PrometheusClient(
      { address: prom.url, timeoutMs: 300, retries: 2, retryDelayMs: 20 },
      EGRESS,
    );
  });
  after(async () => {
    client.close();
    await prom.close();
  });

  const countOf = (q: string) => prom.requests.filter((r) => queryOf(r) === q).length;

  it("reads a one-series vector and a scalar", async () => {
    assert.equal(await client.query("vec"), 99.12);
    assert.equal(await client.query("scal"), 1);
    const r = prom.requests.at(-1);
    assert.equal(r?.method, "GET");
    assert.equal(r?.path, "/api/v1/query");
  });

  it("passes the evaluation time as unix seconds", async () => {
    await client.query("vec", { time: new Date(1_700_000_123_456) });
    assert.equal(prom.requests.at(-1)?.params.time, "1700000123.456");
  });

  it("treats NaN, +Inf, -Inf and an empty vector as no data (null), never as a number", async () => {
    for (const q of ["nan", "inf", "ninf", "empty", "allnan"]) {
      assert.equal(await client.query(q, { reduce: "sum" }), null, q);
    }
    assert.equal(await client.query("nan"), null);
  });

  it("refuses several series without reduce, naming the count and the fix", async () => {
    await assert.rejects(client.query("many"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "result");
      assert.match(e.message, /query returned 3 series; set reduce: sum\|avg\|min\|max/);
      return true;
    });
  });

  it("bounds an answer by series and by bytes, stops reading at the limit, and says which limit and why", async () => {
    // The fake serializes 15 MiB per answer: a patient client, so only the limit can end the query.
    const patient = new PrometheusClient(
      { address: prom.url, timeoutMs: 20_000, retries: 2, retryDelayMs: 20 },
      EGRESS,
    );
    assert.equal(await patient.query("thousand", { reduce: "sum" }), 1000, "1,000 series are within bounds");
    const started = performance.now();
    await assert.rejects(patient.query("huge", { reduce: "sum" }), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "result");
      assert.match(e.message, /more than 1000 series \(the limit\).*aggregate in the query/);
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `stopped at the limit instead of parsing 15 MiB: ${Math.round(ms)} ms`);
    await assert.rejects(patient.query("fat"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "result");
      assert.match(e.message, /larger than 4 MiB \(the limit\)/);
      return true;
    });
    assert.equal(countOf("huge"), 1, "a limit is a query error: not retried");
    assert.equal(await patient.query("vec"), 99.12, "the client still works after cutting answers short");
    patient.close();
  });

  it("reduces several series with sum, avg, min and max, ignoring NaN/Inf series", async () => {
    assert.equal(await client.query("many", { reduce: "sum" }), 9);
    assert.equal(await client.query("many", { reduce: "avg" }), 3);
    assert.equal(await client.query("many", { reduce: "min" }), 1);
    assert.equal(await client.query("many", { reduce: "max" }), 6);
    assert.equal(await client.query("manynan", { reduce: "max" }), 4);
  });

  it("rejects matrix and string results and unparsable samples", async () => {
    await assert.rejects(client.query("matrix"), /returned a matrix, expected an instant vector or scalar/);
    await assert.rejects(client.query("string"), /returned a string/);
    await assert.rejects(client.query("garbage"), (e: unknown) => {
      assert.match((e as Error).message, /^unparsable sample value in the query result$/);
      return true;
    });
  });

  it("maps 400/422 error envelopes to errors with errorType, without retrying", async () => {
    const before = prom.requests.length;
    await assert.rejects(client.query("bad"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "api");
      assert.equal(e.errorType, "bad_data");
      assert.equal(e.status, 400);
      assert.equal(
        e.message,
        "Prometheus bad_data error (4xx); run the query in Prometheus to see its message",
      );
      return true;
    });
    await assert.rejects(client.query("exec"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.errorType, "execution");
      assert.equal(e.status, 422);
      return true;
    });
    assert.equal(prom.requests.length - before, 2, "one request each: API errors are not retried");
  });

  it("reports a 503 without an envelope and a non-JSON 200 as HTTP errors, not retried", async () => {
    await assert.rejects(client.query("unavailable"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "http");
      assert.equal(e.status, 503);
      assert.match(e.message, /^Prometheus at http:\/\/127\.0\.0\.1:\d+\/? answered 5xx$/);
      return true;
    });
    assert.equal(countOf("unavailable"), 1);
    await assert.rejects(client.query("html"), /answered 2xx \(not a query response\)/);
  });

  it("never puts response body text into the message: only the outcome class and a known errorType", async () => {
    const seen: Record<string, PrometheusQueryError> = {};
    for (const q of ["echo", "echotype", "longtype", "echo503", "echo200", "echotypeof", "echosample"]) {
      await assert.rejects(client.query(q), (e: unknown) => {
        assert.ok(e instanceof PrometheusQueryError, q);
        assert.ok(!e.message.includes("MARKER"), `${q}: ${e.message}`);
        assert.ok(!(e.errorType ?? "").includes("MARKER"), `${q}: errorType ${e.errorType}`);
        seen[q] = e;
        return true;
      });
    }
    assert.equal(seen.echo?.errorType, "bad_data");
    assert.match(seen.echo?.message ?? "", /^Prometheus bad_data error \(4xx\)/);
    assert.equal(seen.echotype?.errorType, "unknown");
    assert.match(seen.echotype?.message ?? "", /^Prometheus unknown error \(4xx\)/);
    assert.equal(seen.longtype?.errorType, "unknown", "33 characters is not an errorType");
    assert.match(seen.echo503?.message ?? "", /answered 5xx$/);
    assert.match(seen.echo200?.message ?? "", /answered 2xx \(not a query response\)$/);
    assert.equal(seen.echotypeof?.message, "query returned an unknown result type");
  });

  it("times out a slow answer per attempt and retries it, then gives up", async () => {
    const t0 = performance.now();
    await assert.rejects(client.query("slow"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "timeout");
      assert.match(e.message, /did not answer within 300 ms/);
      return true;
    });
    const ms = performance.now() - t0;
    assert.equal(countOf("slow"), 3, "1 attempt + 2 retries");
    // The count proves it gives up; the lower bound that each attempt waited its timeout. The upper bound is loose:
    // a loaded machine delays timers, and the point is only that it does not wait for Prometheus's own answer.
    assert.ok(ms >= 900 && ms < 4000, `3 × 300 ms timeouts + backoff, took ${ms.toFixed(0)} ms`);
  });

  it("aborts promptly via the signal, without retrying", async () => {
    const ac = new AbortController();
    const before = countOf("slow");
    const query = client.query("slow", { signal: ac.signal });
    // Abort once the request is at the server (a fixed delay could abort before it is sent on a loaded machine).
    while (countOf("slow") === before) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    ac.abort();
    await assert.rejects(query, (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "aborted");
      return true;
    });
    // "aborted" (not "timeout") and one request prove the signal ended the attempt and that no retry followed; the
    // time bound only guards against waiting out the attempt timeout and retries (3 × 300 ms).
    assert.ok(performance.now() - t0 < 900);
    assert.equal(countOf("slow") - before, 1);
    await assert.rejects(client.query("vec", { signal: ac.signal }), /aborted/);
  });

  it("sends long queries as a form POST", async () => {
    const long = `vec${" ".repeat(5000)}`;
    ANSWERS[long] = { body: vector("7") };
    assert.equal(await client.query(long), 7);
    const r = prom.requests.at(-1);
    assert.equal(r?.method, "POST");
    assert.equal(r?.headers["content-type"], "application/x-www-form-urlencoded");
  });
});

describe("PrometheusClient network failures", () => {
  it("sends nothing to an address the egress policy refuses, and does not retry the refusal", async () => {
    const prom = await startFakePrometheus(() => ({ body: vector("1") }));
    const strict = new Egress({ policy: new AddressPolicy() });
    const tenant = new PrometheusClient({ address: prom.url, timeoutMs: 500, retries: 2 }, strict);
    await assert.rejects(tenant.query("up"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "refused");
      assert.match(
        e.message,
        /^Prometheus at http:\/\/127\.0\.0\.1:\d+\/? not contacted \(refused-by-policy/,
      );
      return true;
    });
    assert.equal(prom.requests.length, 0);
    // The operator's own --prometheus-url is theirs to point at loopback.
    const operator = new PrometheusClient({ address: prom.url, timeoutMs: 500, trust: "operator" }, strict);
    assert.equal(await operator.query("up"), 1);
    for (const c of [tenant, operator]) c.close();
    await prom.close();
  });

  it("retries a refused connection twice, then fails as network (ECONNREFUSED kept on the error only)", async () => {
    const port = await closedPort();
    const client = new PrometheusClient(
      {
        address: `http://127.0.0.1:${port}`,
        timeoutMs: 500,
        retries: 2,
        retryDelayMs: 100,
      },
      EGRESS,
    );
    const t0 = performance.now();
    await assert.rejects(client.query("up"), (e: unknown) => {
      assert.ok(e instanceof PrometheusQueryError);
      assert.equal(e.kind, "network");
      assert.equal(e.code, "ECONNREFUSED");
      assert.match(e.message, /^cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+\/? \(network\)$/);
      return true;
    });
    // Backoff 100 ms then 200 ms proves both retries happened.
    assert.ok(performance.now() - t0 >= 290, "waited for both retries");
    client.close();
  });

  it("recovers when a reset connection succeeds on a retry", async () => {
    let n = 0;
    const server = createServer((sock) => {
      n++;
      if (n < 3) sock.destroy();
      else {
        const body = JSON.stringify(vector("42"));
        sock.end(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const client = new PrometheusClient(
      {
        address: `http://127.0.0.1:${port}`,
        timeoutMs: 500,
        retryDelayMs: 10,
      },
      EGRESS,
    );
    assert.equal(await client.query("up"), 42);
    assert.equal(n, 3);
    client.close();
    server.close();
  });
});

describe("PrometheusClient credentials", () => {
  let prom: FakePrometheus;
  before(async () => {
    prom = await startFakePrometheus((q) => {
      const auth = q.headers.authorization;
      if (
        auth !== `Bearer ${TOKEN}` &&
        auth !== `Basic ${Buffer.from(`vireo:${PASSWORD}`).toString("base64")}`
      ) {
        return { status: 401, text: "Unauthorized" };
      }
      return queryOf(q) === "fail"
        ? { status: 400, body: promError("bad_data", "nope") }
        : { body: scalar("5") };
    });
  });
  after(() => prom.close());

  it("sends a bearer token", async () => {
    const c = new PrometheusClient(
      {
        address: prom.url,
        timeoutMs: 500,
        auth: { type: "bearer", token: TOKEN },
      },
      EGRESS,
    );
    assert.equal(await c.query("up"), 5);
    c.close();
  });

  it("sends basic auth, also when given as userinfo in the address (which is then stripped)", async () => {
    const c = new PrometheusClient(
      {
        address: prom.url,
        timeoutMs: 500,
        auth: { type: "basic", username: "vireo", password: PASSWORD },
      },
      EGRESS,
    );
    assert.equal(await c.query("up"), 5);
    c.close();
    const u = new URL(prom.url);
    u.username = "vireo";
    u.password = PASSWORD;
    const c2 = new PrometheusClient({ address: u.href, timeoutMs: 500 }, EGRESS);
    assert.equal(await c2.query("up"), 5);
    c2.close();
  });

  it("reports 401 without echoing credentials, the query or the URL's userinfo", async () => {
    const u = new URL(prom.url);
    u.username = "vireo";
    u.password = "wrong-password-123";
    for (const c of [
      new PrometheusClient(
        {
          address: prom.url,
          timeoutMs: 500,
          auth: { type: "bearer", token: "bad-token-xyz" },
        },
        EGRESS,
      ),
      new PrometheusClient({ address: u.href, timeoutMs: 500 }, EGRESS),
    ]) {
      const err = await c.query('secret_query{a="confidential"}').catch((e: unknown) => e);
      assert.ok(err instanceof PrometheusQueryError);
      assert.equal(err.status, 401);
      const dump = `${String(err)} ${JSON.stringify(err)} ${inspect(err, { depth: 5 })} ${err.stack}`;
      for (const secret of ["bad-token-xyz", "wrong-password-123", "confidential", "Authorization"]) {
        assert.ok(!dump.includes(secret), `error mentions ${secret}: ${dump}`);
      }
      c.close();
    }
    const port = await closedPort();
    const c = new PrometheusClient(
      {
        address: `http://vireo:${PASSWORD}@127.0.0.1:${port}/prom?x=${TOKEN}`,
        timeoutMs: 200,
        retries: 0,
        auth: { type: "bearer", token: TOKEN },
      },
      EGRESS,
    );
    const err = await c.query("up").catch((e: unknown) => e);
    const dump = `${String(err)} ${JSON.stringify(err)} ${inspect(err, { depth: 5 })}`;
    assert.ok(!dump.includes(TOKEN) && !dump.includes(PASSWORD), dump);
    c.close();
  });
});

describe("PrometheusClient TLS", { skip: !existsSync("/usr/bin/openssl") && "openssl not installed" }, () => {
  let dir: string;
  let prom: FakePrometheus;
  let cert: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vireo-prom-tls-"));
    execFileSync(
      "/usr/bin/openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-days",
        "1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    prom = await startFakePrometheus(() => ({ body: scalar("3") }), {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert,
    });
  });
  after(async () => {
    await prom.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("trusts a custom CA, refuses an unknown one, and skips verification only when told", async () => {
    const withCa = new PrometheusClient({ address: prom.url, timeoutMs: 1000, caPem: cert }, EGRESS);
    assert.equal(await withCa.query("up"), 3);
    const plain = new PrometheusClient({ address: prom.url, timeoutMs: 1000, retries: 0 }, EGRESS);
    await assert.rejects(
      plain.query("up"),
      /cannot reach Prometheus.*\(network, TLS certificate not trusted/,
    );
    const insecure = new PrometheusClient(
      { address: prom.url, timeoutMs: 1000, insecureSkipVerify: true },
      EGRESS,
    );
    assert.equal(await insecure.query("up"), 3);
    for (const c of [withCa, plain, insecure]) c.close();
  });
});

describe("parseQueryResponse", () => {
  it("rejects native histograms with a hint", () => {
    assert.throws(
      () =>
        parseQueryResponse({
          status: "success",
          data: { resultType: "vector", result: [{ metric: {}, histogram: [1, {}] }] },
        }),
      /native histograms/,
    );
  });
});

/** A port nothing listens on: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
