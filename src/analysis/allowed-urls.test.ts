import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isAllowedAddress, parseAllowedPrefix } from "./allowed-urls.ts";

const PROM = ["http://prom:9090"];
const TENANT = ["https://thanos.example/tenants/shop/"];

describe("isAllowedAddress", () => {
  it("allows the prefix itself and paths below it", () => {
    for (const a of [
      "http://prom:9090",
      "http://prom:9090/",
      "http://prom:9090/api",
      "http://PROM:9090", // hosts compare case-insensitively, as URL normalizes them
      "http://prom:9090/?x=1", // the client drops the query
    ]) {
      assert.equal(isAllowedAddress(a, PROM), true, a);
    }
    for (const a of ["https://thanos.example/tenants/shop", "https://thanos.example/tenants/shop/x/y"]) {
      assert.equal(isAllowedAddress(a, TENANT), true, a);
    }
  });

  it("refuses look-alike hosts, ports and schemes", () => {
    for (const a of [
      "http://prom:9090.evil.com", // not a port: does not even parse
      "http://prom.evil.com:9090",
      "http://prom:90900",
      "http://prom:909",
      "http://prom:9091",
      "http://prom", // port 80, not 9090
      "https://prom:9090",
      "http://evilprom:9090",
      "http://prom.:9090", // a trailing dot is another name to us
      "ftp://prom:9090",
      "not a url",
      "",
    ]) {
      assert.equal(isAllowedAddress(a, PROM), false, a);
    }
  });

  it("judges userinfo tricks by the real host", () => {
    assert.equal(isAllowedAddress("http://prom:9090@evil.example", PROM), false);
    assert.equal(isAllowedAddress("http://prom:9090@evil.example:9090", PROM), false);
    assert.equal(isAllowedAddress("http://evil.example\\@prom:9090", PROM), false);
    // Credentials for the allowed host itself are the tenant's own business.
    assert.equal(isAllowedAddress("http://me:pw@prom:9090", PROM), true);
  });

  it("matches the path at a / boundary and after dot-segment resolution", () => {
    for (const a of [
      "https://thanos.example/tenants/shopfront",
      "https://thanos.example/tenants/sho",
      "https://thanos.example/tenants",
      "https://thanos.example/",
      "https://thanos.example/tenants/shop/../other",
      "https://thanos.example/tenants/shop/%2e%2e/other",
      "https://thanos.example/tenants/shop/..%2Fother", // a decoding proxy would climb out
      "https://thanos.example/tenants/shop%2F..%2Fother",
      "https://thanos.example/tenants/shop/%5c..",
    ]) {
      assert.equal(isAllowedAddress(a, TENANT), false, a);
    }
  });

  it("normalizes default ports and IPv6 literals", () => {
    assert.equal(isAllowedAddress("https://thanos.example:443/tenants/shop", TENANT), true);
    assert.equal(isAllowedAddress("http://[::1]:9090/", ["http://[0:0::1]:9090"]), true);
    assert.equal(isAllowedAddress("http://[::2]:9090/", ["http://[::1]:9090"]), false);
  });

  it("allows nothing with an empty list", () => {
    assert.equal(isAllowedAddress("http://prom:9090", []), false);
  });
});

describe("parseAllowedPrefix", () => {
  it("accepts http(s) URLs, normalized", () => {
    assert.equal(parseAllowedPrefix("HTTP://Prom:9090"), "http://prom:9090/");
    assert.equal(parseAllowedPrefix("https://thanos.example/t/"), "https://thanos.example/t/");
  });

  it("rejects what cannot be a plain prefix", () => {
    for (const [entry, why] of [
      ["prom:9090", /not http/],
      ["http//prom", /not a URL/],
      ["http://u:p@prom:9090", /credentials/],
      ["http://prom:9090/?tenant=a", /query or fragment/],
      ["http://prom:9090/#x", /query or fragment/],
      ["http://prom:9090/a%2Fb", /percent-encode/],
    ] as const) {
      assert.throws(() => parseAllowedPrefix(entry), why, entry);
    }
  });
});
