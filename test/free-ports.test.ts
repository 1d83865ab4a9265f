// The e2e clusters' port picker: distinct ports, free to bind, and never from the kernel's ephemeral range.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { it } from "node:test";
import { freePorts } from "../e2e/cluster/ports.ts";

it("hands out distinct ports below the ephemeral range, each bindable after the call", async () => {
  const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const ports = await freePorts(16);
  assert.equal(new Set(ports).size, 16);
  for (const port of ports) {
    assert.ok(port >= 10_000 && port < (low ?? 0), `${port} outside [10000, ${low})`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
