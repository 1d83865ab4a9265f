import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AddressPolicy, parseRanges } from "./address-policy.ts";
import { cidrContains, embeddedIpv4, formatIp, parseCidr, parseIp } from "./ip.ts";

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));

describe("ip", () => {
  it("parses IPv4 and IPv6 forms to the same bytes", () => {
    assert.deepEqual(parseIp("::ffff:127.0.0.1")?.bytes, parseIp("::ffff:7f00:1")?.bytes);
    assert.deepEqual(parseIp("[fe80::1%eth0]")?.bytes, parseIp("fe80::1")?.bytes);
    assert.equal(formatIp(parseIp("2001:db8::1")!), "2001:db8:0:0:0:0:0:1");
    assert.equal(parseIp("localhost"), undefined);
    assert.equal(
      parseIp("127.1"),
      undefined,
      "only the normalized dotted quad (URL and DNS give nothing else)",
    );
  });

  it("contains exactly the addresses sharing the prefix", () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 32 }), ipv4, (base, bits, probe) => {
        const range = parseCidr(`${base}/${bits}`);
        const asNumber = (s: string) => s.split(".").reduce((n, o) => n * 256 + Number(o), 0);
        const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
        const same =
          Math.floor(asNumber(base) / 2 ** (32 - bits)) === Math.floor(asNumber(probe) / 2 ** (32 - bits));
        assert.equal(cidrContains(range, parseIp(probe)!), same, `${base}/${bits} ∋ ${probe} (mask ${mask})`);
      }),
    );
  });

  it("finds the IPv4 address inside mapped, compatible and NAT64 IPv6 addresses", () => {
    fc.assert(
      fc.property(ipv4, (v4) => {
        for (const v6 of [`::ffff:${v4}`, `64:ff9b::${v4}`]) {
          assert.equal(formatIp(embeddedIpv4(parseIp(v6)!)!), v4, v6);
        }
      }),
    );
    assert.equal(embeddedIpv4(parseIp("::1")!), undefined, "::1 is IPv6 loopback, not 0.0.0.1");
    assert.equal(embeddedIpv4(parseIp("2001:db8::1")!), undefined);
  });

  it("refuses malformed ranges", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0/8", "host/8", "10.0.0.0/8/8", ""]) {
      assert.throws(() => parseCidr(bad), /not an IP|prefix length/, bad);
    }
    assert.deepEqual(parseRanges(["10.1.2.3/8", "::1"]), ["10.0.0.0/8", "0:0:0:0:0:0:0:1/128"]);
  });
});

describe("AddressPolicy", () => {
  const apiServer = { cidr: "10.96.0.1", port: 443, what: "the Kubernetes API server" };
  const own = { cidr: "127.0.0.0/8", port: 8080, what: "the controller's own port" };

  it("refuses loopback, link-local, metadata, unspecified and multicast by default, in every spelling", () => {
    const p = new AddressPolicy();
    for (const a of [
      "127.0.0.1",
      "127.255.0.9",
      "::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "64:ff9b::7f00:1",
      "169.254.169.254",
      "::ffff:169.254.169.254",
      "fe80::1",
      "fd00:ec2::254",
      "0.0.0.0",
      "::",
      "224.0.0.1",
      "255.255.255.255",
    ]) {
      assert.ok(p.refusal(a, 80), `${a} must be refused`);
    }
    for (const a of ["10.0.0.5", "192.168.1.1", "172.16.0.1", "93.184.216.34", "2001:db8::1"]) {
      assert.equal(p.refusal(a, 443), undefined, `${a} is allowed by default`);
    }
    assert.match(p.refusal("169.254.169.254", 80) ?? "", /link-local \(cloud instance metadata\)/);
    assert.match(p.refusal("example.com", 80) ?? "", /not an IP address/);
  });

  it("lets the allow-list open defaults and deny ranges, but never protected endpoints", () => {
    const p = new AddressPolicy({
      allow: ["127.0.0.0/8", "10.1.0.0/16"],
      deny: ["10.0.0.0/8"],
      protectedEndpoints: [apiServer, own],
      denyHosts: [{ address: "10.96.0.1", what: "the Kubernetes API server's address" }],
    });
    assert.equal(p.refusal("127.0.0.1", 9000), undefined);
    assert.equal(p.refusal("::ffff:127.0.0.1", 9000), undefined, "allowed in its IPv4 form");
    assert.match(p.refusal("127.0.0.1", 8080) ?? "", /controller's own port/);
    assert.match(p.refusal("127.3.2.1", 8080) ?? "", /controller's own port/);
    assert.match(p.refusal("::ffff:127.0.0.1", 8080) ?? "", /controller's own port/);
    assert.equal(p.refusal("10.1.2.3", 80), undefined, "allow wins over deny");
    assert.match(p.refusal("10.2.0.1", 80) ?? "", /--egress-deny/);
    assert.match(p.refusal("10.96.0.1", 443) ?? "", /Kubernetes API server$/);
    assert.match(p.refusal("10.96.0.1", 80) ?? "", /API server's address/);
  });

  it("never admits a protected endpoint, whatever the allow-list (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(ipv4, fc.integer({ min: 0, max: 32 }))), ipv4, (allow, probe) => {
        const p = new AddressPolicy({
          allow: allow.map(([a, b]) => `${a}/${b}`),
          protectedEndpoints: [{ cidr: `${probe}/32`, port: 6443, what: "protected" }],
        });
        assert.ok(p.refusal(probe, 6443));
        assert.ok(p.refusal(`::ffff:${probe}`, 6443));
      }),
    );
  });
});
