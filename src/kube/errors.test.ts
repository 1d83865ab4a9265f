import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import {
  classifyError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isRetryable,
  KubeApiError,
} from "./errors.ts";

const status = (code: number, reason: string, message: string, details: object = {}): string =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, details });

const apiEx = (code: number, body: unknown, headers: Record<string, string> = {}): ApiException<unknown> =>
  new ApiException(
    code,
    `HTTP-Code: ${code}\nMessage: x\nBody: ${JSON.stringify(body)}\nHeaders: secret`,
    body,
    headers,
  );

describe("classifyError", () => {
  it("maps HTTP statuses to kinds", () => {
    const cases: [number, string, string][] = [
      [404, "NotFound", "NotFound"],
      [409, "Conflict", "Conflict"],
      [409, "AlreadyExists", "AlreadyExists"],
      [410, "Expired", "Gone"],
      [401, "Unauthorized", "Unauthorized"],
      [400, "BadRequest", "BadRequest"],
      [429, "TooManyRequests", "TooManyRequests"],
      [500, "InternalError", "ServerError"],
      [503, "ServiceUnavailable", "ServerError"],
    ];
    for (const [code, reason, kind] of cases) {
      assert.equal(classifyError(apiEx(code, status(code, reason, "m"))).kind, kind, `${code} ${reason}`);
    }
  });

  it("names verb, resource and namespace for Forbidden", () => {
    const msg =
      'rollouts.vireo.dev "r" is forbidden: User "system:serviceaccount:vireo-system:vireo" cannot patch resource "rollouts/status"';
    const e = classifyError(apiEx(403, status(403, "Forbidden", msg)), {
      verb: "patch",
      resource: "rollouts.vireo.dev/status",
      namespace: "shop",
      name: "r",
    });
    assert.equal(e.kind, "Forbidden");
    assert.match(e.message, /RBAC: forbidden to patch rollouts\.vireo\.dev\/status in namespace shop/);
    assert.match(e.message, /cannot patch resource "rollouts\/status"/);
    assert.doesNotMatch(e.message, /secret/, "ApiException's header dump is not copied");
  });

  it("lists field causes for Invalid", () => {
    const body = status(422, "Invalid", "Rollout.vireo.dev is invalid", {
      causes: [
        { field: "spec.steps[0].weight", reason: "FieldValueInvalid", message: "must be <= 100" },
        { field: "spec.service", reason: "FieldValueRequired", message: "Required value" },
      ],
    });
    const e = classifyError(apiEx(422, body), { verb: "create", resource: "rollouts" });
    assert.equal(e.kind, "Invalid");
    assert.equal(e.causes.length, 2);
    assert.match(e.message, /spec\.steps\[0\]\.weight: must be <= 100; spec\.service: Required value/);
  });

  it("reads Retry-After", () => {
    const e = classifyError(apiEx(429, status(429, "TooManyRequests", "slow down"), { "retry-after": "3" }));
    assert.equal(e.retryAfterSeconds, 3);
  });

  it("handles watch errors, Status objects, network and abort errors", () => {
    assert.equal(classifyError(Object.assign(new Error("Gone"), { statusCode: 410 })).kind, "Gone");
    assert.equal(
      classifyError({ kind: "Status", code: 410, reason: "Expired", message: "too old" }).kind,
      "Gone",
    );
    const net = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
    });
    const e = classifyError(net, { verb: "list", resource: "configmaps" });
    assert.equal(e.kind, "Network");
    assert.match(e.message, /list configmaps: network error: .*ECONNREFUSED/);
    assert.equal(classifyError(new DOMException("timeout", "TimeoutError")).kind, "Network");
    assert.equal(classifyError(new Error("boom")).kind, "Unknown");
    assert.equal(classifyError("weird").kind, "Unknown");
  });

  it("is idempotent and fills in missing context", () => {
    const e = classifyError(apiEx(404, status(404, "NotFound", "nope")));
    assert.equal(classifyError(e), e);
    const withCtx = classifyError(e, { verb: "get", resource: "leases" });
    assert.ok(withCtx instanceof KubeApiError);
    assert.deepEqual(withCtx.context, { verb: "get", resource: "leases" });
  });

  it("isRetryable and predicates", () => {
    assert.equal(isRetryable(apiEx(409, status(409, "Conflict", "c"))), true);
    assert.equal(isRetryable(apiEx(429, "")), true);
    assert.equal(isRetryable(apiEx(502, "<html>")), true);
    assert.equal(isRetryable(new TypeError("fetch failed")), true);
    assert.equal(isRetryable(apiEx(403, "")), false);
    assert.equal(isRetryable(apiEx(422, "")), false);
    assert.equal(isRetryable(apiEx(404, "")), false);
    assert.equal(isRetryable(apiEx(409, status(409, "AlreadyExists", "x"))), false);
    assert.equal(isNotFound(apiEx(404, "")), true);
    assert.equal(isConflict(apiEx(409, "")), true);
    assert.equal(isAlreadyExists(apiEx(409, status(409, "AlreadyExists", "x"))), true);
  });

  it("serializes without the cause chain", () => {
    const e = classifyError(apiEx(404, status(404, "NotFound", "x")), { verb: "get", resource: "leases" });
    const json = JSON.stringify(e);
    assert.doesNotMatch(json, /secret/);
    assert.match(json, /"kind":"NotFound"/);
  });
});
