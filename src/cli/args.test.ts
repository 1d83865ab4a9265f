// Command-line parsing: kubectl-style flags, defaults and usage errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseArgs, parseTimeout } from "./args.ts";
import { CliError } from "./errors.ts";

describe("parseArgs", () => {
  it("defaults", () => {
    const a = parseArgs(["get"]);
    assert.equal(a.command, "get");
    assert.deepEqual(a.positional, []);
    assert.equal(a.allNamespaces, false);
    assert.equal(a.wait, true);
    assert.equal(a.timeoutMs, 60_000);
    assert.equal(a.color, "auto");
  });

  it("flags before and after the verb, = and separate values, short forms", () => {
    const a = parseArgs([
      "-n",
      "shop",
      "get",
      "podinfo",
      "--context=prod",
      "-w",
      "-ojson",
      "--kubeconfig",
      "/k",
    ]);
    assert.equal(a.command, "get");
    assert.deepEqual(a.positional, ["podinfo"]);
    assert.equal(a.namespace, "shop");
    assert.equal(a.context, "prod");
    assert.equal(a.watch, true);
    assert.equal(a.output, "json");
    assert.equal(a.kubeconfig, "/k");
    assert.equal(parseArgs(["list", "-nfoo"]).namespace, "foo");
    assert.equal(parseArgs(["list", "-A"]).allNamespaces, true);
  });

  it("steering flags", () => {
    const a = parseArgs(["promote", "podinfo", "--full", "--no-wait", "--timeout", "90s"]);
    assert.equal(a.full, true);
    assert.equal(a.wait, false);
    assert.equal(a.timeoutMs, 90_000);
    assert.equal(parseArgs(["dashboard", "--port", "8080"]).port, 8080);
  });

  it("help when no verb or -h", () => {
    assert.equal(parseArgs([]).command, "help");
    assert.equal(parseArgs(["get", "-h"]).command, "help");
  });

  it("usage errors exit 2 and say what is wrong", () => {
    const bad = (argv: string[], re: RegExp) =>
      assert.throws(
        () => parseArgs(argv),
        (e: unknown) => e instanceof CliError && e.exitCode === 2 && re.test(e.message),
      );
    bad(["frobnicate"], /unknown command "frobnicate"/);
    bad(["get", "--bogus"], /unknown flag --bogus/);
    bad(["get", "-n"], /flag -n needs a value/);
    bad(["get", "-o", "table"], /invalid --output "table"/);
    bad(["dashboard", "--port", "70000"], /invalid --port/);
    bad(["pause", "x", "--timeout", "soon"], /invalid --timeout "soon"/);
  });
});

describe("parseTimeout", () => {
  it("units", () => {
    assert.equal(parseTimeout("1500ms"), 1500);
    assert.equal(parseTimeout("2m"), 120_000);
    assert.equal(parseTimeout("5"), 5000);
    assert.equal(parseTimeout("0.5s"), 500);
  });
});
