// WriteFence: a cache older than our own last write is stale; a caught-up cache clears the record.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { WriteFence } from "./write-fence.ts";

describe("WriteFence", () => {
  it("knows nothing about keys it never wrote", () => {
    assert.equal(new WriteFence().isStale("a/b", "5"), false);
  });

  it("a cache showing the version we wrote over (or older) is stale until it shows ours", () => {
    const f = new WriteFence();
    f.wrote("a/b", "10", "12");
    assert.equal(f.isStale("a/b", "10"), true);
    assert.equal(f.isStale("a/b", "11"), true, "an intermediate version is still older than our write");
    assert.equal(f.isStale("a/b", "12"), false);
    assert.equal(f.size, 0, "caught up: the record is gone");
    assert.equal(f.isStale("a/b", "10"), false, "after catching up, the fence no longer judges");
  });

  it("a cache past our write (someone wrote after us) is fresh", () => {
    const f = new WriteFence();
    f.wrote("a/b", "10", "12");
    assert.equal(f.isStale("a/b", "15"), false);
  });

  it("non-numeric versions: only the exact base counts as stale", () => {
    const f = new WriteFence();
    f.wrote("a/b", "abc", "abd");
    assert.equal(f.isStale("a/b", "abc"), true);
    assert.equal(f.isStale("a/b", "xyz"), false);
  });

  it("compares decimal versions numerically, not as strings", () => {
    const f = new WriteFence();
    f.wrote("k", "99", "100");
    assert.equal(f.isStale("k", "99"), true, '"99" > "100" as strings, but is older');
  });

  it("property: for numeric versions, stale exactly when the cache is older than the last write", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        (wrote, seen) => {
          const f = new WriteFence();
          f.wrote("k", String(wrote - 1n), String(wrote));
          assert.equal(f.isStale("k", String(seen)), seen < wrote);
        },
      ),
    );
  });

  it("a write that returned no version clears the record; forget drops it", () => {
    const f = new WriteFence();
    f.wrote("k", "1", "2");
    f.wrote("k", "2", undefined);
    assert.equal(f.isStale("k", "1"), false);
    f.wrote("k", "1", "2");
    f.forget("k");
    assert.equal(f.size, 0);
  });
});
