// The real-proxy harness's own pieces, without a cluster: pod behaviour from the template, CIDR maths, and the load
// generator against real loopback servers.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { answered, sharePercent, startLoad } from "./load.ts";
import { behaviourOf, failsAt } from "./pod-behaviour.ts";
import { inCidr, randomBenchmarkCidr } from "./pod-cidr.ts";
import { APP_HEADER } from "./pod-runner.ts";

describe("pod behaviour from the template", () => {
  it("reads ERROR_RATE and LATENCY_MS literals and every containerPort", () => {
    const b = behaviourOf({
      spec: {
        containers: [
          { env: [{ name: "ERROR_RATE", value: "0.25" }], ports: [{ containerPort: 9898 }] },
          {
            env: [
              { name: "LATENCY_MS", value: "40" },
              { name: "ERROR_RATE", value: "0.9" },
              { name: "PROTOCOL", value: "grpc" },
            ],
            ports: [{ containerPort: 9090 }, { containerPort: 9898 }],
          },
        ],
      },
    });
    assert.deepEqual(b, { errorRate: 0.25, latencyMs: 40, ports: [9898, 9090], protocol: "grpc" });
  });

  it("clamps or zeroes values an app could not use", () => {
    const b = behaviourOf({
      spec: {
        containers: [
          {
            env: [
              { name: "ERROR_RATE", value: "7" },
              { name: "LATENCY_MS", value: "soon" },
            ],
          },
        ],
      },
    });
    assert.deepEqual(b, { errorRate: 1, latencyMs: 0, ports: [], protocol: "http" });
  });

  it("spreads failures evenly: exactly rate × n of any prefix fail, to within one", () => {
    for (const rate of [0, 0.1, 0.3, 0.5, 1]) {
      let failed = 0;
      for (let n = 0; n < 1000; n++) {
        if (failsAt(n, rate)) failed++;
        assert.ok(Math.abs(failed - rate * (n + 1)) < 1, `rate ${rate} after ${n + 1}: ${failed}`);
      }
    }
  });
});

describe("pod CIDR", () => {
  it("picks a /24 of 198.18.0.0/15 and tests membership", () => {
    assert.equal(
      randomBenchmarkCidr(() => 0),
      "198.18.0.0/24",
    );
    assert.equal(
      randomBenchmarkCidr(() => 0.999),
      "198.19.255.0/24",
    );
    assert.ok(inCidr("198.18.7.42", "198.18.7.0/24"));
    assert.ok(!inCidr("198.18.8.1", "198.18.7.0/24"));
    assert.ok(!inCidr("10.244.0.1", "198.18.7.0/24"));
    assert.ok(!inCidr("not-an-ip", "198.18.7.0/24"));
  });
});

describe("load generator", () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it("counts answers per app header, status class, and refuses non-loopback targets", async () => {
    let n = 0;
    const server = createServer((_req, res) => {
      const canary = n++ % 4 === 0;
      res.writeHead(canary ? 500 : 200, { [APP_HEADER]: canary ? "app" : "app-primary" }).end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    assert.throws(() => startLoad({ url: "http://192.0.2.1/" }), /non-loopback/);
    const load = startLoad({ url, rps: 1 });
    const c = await load.burst(40);
    await load.stop();
    assert.equal(c.total, 40);
    assert.equal(answered(c, "app"), 10);
    assert.equal(c.byApp.get("app")?.get("5xx"), 10);
    assert.equal(sharePercent(c, "app-primary"), 75);
  });
});
