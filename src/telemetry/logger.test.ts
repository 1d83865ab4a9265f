import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { AxiosError, AxiosHeaders } from "axios";
import { classifyError } from "../kube/errors.ts";
import { createLogger, sanitizeError, sanitizeUrl } from "./logger.ts";

const SLACK = "https://hooks.slack.com/services/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";
const TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldC10b2tlbiJ9.payload.signature";

function capture(): { lines: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { lines: () => chunks.join(""), stream };
}

function axiosError(): AxiosError {
  const headers = new AxiosHeaders({ Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" });
  const config = { url: SLACK, method: "post", headers, data: JSON.stringify({ text: "hi" }) };
  const request = {
    path: "/services/T0123ABCD/B0456EFGH/XyZsecretWebhookToken123",
    _header: `Authorization: Bearer ${TOKEN}`,
  };
  const response = {
    status: 404,
    statusText: "Not Found",
    headers: {},
    config,
    request,
    data: "no_service",
  };
  type Cfg = ConstructorParameters<typeof AxiosError>[2];
  type Res = ConstructorParameters<typeof AxiosError>[4];
  return new AxiosError(
    "Request failed with status code 404",
    "ERR_BAD_REQUEST",
    config as unknown as Cfg,
    request,
    response as unknown as Res,
  );
}

describe("sanitizeUrl", () => {
  it("drops userinfo, query and secret-looking path segments", () => {
    assert.equal(sanitizeUrl(SLACK), "https://hooks.slack.com/services/***/***/***");
    assert.equal(
      sanitizeUrl("https://user:pw@prom.example:9090/api/v1/query?query=up&token=abc"),
      "https://prom.example:9090/api/v1/query",
    );
    assert.equal(sanitizeUrl("not a url"), "[REDACTED]");
  });
});

describe("logger redaction", () => {
  it("never prints the webhook URL or bearer token of an AxiosError, wherever it is logged", () => {
    const out = capture();
    const log = createLogger({ destination: out.stream, level: "debug" });
    const err = axiosError();
    log.error(err);
    log.error({ err }, "notify failed");
    log.warn({ error: err, attempt: 2 }, "retrying");
    log.warn({ details: { nested: [err] } }, "nested");
    log.info({ url: SLACK, headers: { authorization: `Bearer ${TOKEN}` }, token: TOKEN }, "fields");
    log.info(`posting to ${SLACK} with Bearer ${TOKEN}`);
    log.error({ err: new Error("wrapped", { cause: err }) }, "cause chain");
    const text = out.lines();
    assert.ok(!text.includes("XyZsecretWebhookToken123"), text);
    assert.ok(!text.includes(TOKEN), text);
    assert.ok(!text.includes("T0123ABCD"), text);
    assert.equal(text.trim().split("\n").length, 7);
    const first = JSON.parse(text.split("\n")[0] as string);
    assert.equal(first.err.type, "AxiosError");
    assert.equal(first.err.status, 404);
    assert.equal(first.err.method, "POST");
    assert.equal(first.err.url, "https://hooks.slack.com/services/***/***/***");
    assert.equal(first.err.config, undefined);
    assert.equal(first.level, "error");
  });

  it("keeps Kubernetes error details but not ApiException's header dump", () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    const body = JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: "cannot patch" });
    const apiErr = new ApiException(
      403,
      `HTTP-Code: 403 Body: ${body} Headers: {"authorization":"Bearer ${TOKEN}"}`,
      body,
      {},
    );
    log.error(
      { err: classifyError(apiErr, { verb: "patch", resource: "rollouts/status", namespace: "a" }) },
      "x",
    );
    const line = JSON.parse(out.lines());
    assert.equal(line.err.kind, "Forbidden");
    assert.match(line.err.message, /RBAC: forbidden to patch rollouts\/status in namespace a/);
    assert.ok(!out.lines().includes(TOKEN));
  });

  it("sanitizeError handles non-errors and is idempotent", () => {
    const s = sanitizeError(axiosError());
    assert.equal(sanitizeError(s), s);
    assert.deepEqual(sanitizeError(`oops ${SLACK}`), {
      type: "string",
      message: "oops https://hooks.slack.com/services/***/***/***",
    });
  });
});
