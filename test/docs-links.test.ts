// Every relative link and #anchor in the repository's Markdown resolves (files exist, anchors exist as GitHub slugs
// them), the CRD descriptions (kubectl explain) point at docs that exist, and code comments cite docs that exist.
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { buildRolloutCrd } from "../src/api/crd.ts";

const root = resolve(import.meta.dirname, "..");
const IGNORED = (f: string) => /(^|\/)(node_modules|dist)\//.test(f);

/** A fenced code block: from an opening fence to the next fence of the same kind and indentation. */
const FENCED = /^([ \t]*)(```|~~~)[^\n]*\n[\s\S]*?^\1\2[ \t]*$/gm;

/** Markdown without fenced code blocks and inline code spans, where a link is text, not a link. */
function prose(markdown: string): string {
  return markdown.replace(FENCED, "").replace(/(`+)[\s\S]*?\1/g, (m) => m.replace(/[^\n]/g, " "));
}

/** GitHub's heading id: the rendered text, lower-cased, without punctuation other than `-` and `_`, spaces to `-`. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/(^|[^\p{L}\p{N}])_(.+?)_(?=[^\p{L}\p{N}]|$)/gu, "$1$2");
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a Markdown file offers: heading slugs (repeats suffixed -1, -2, …) and explicit `<a id|name>`. */
export function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(FENCED, "");
  for (const line of text.split("\n")) {
    const h = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = githubSlug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(a[1]!);
  }
  return out;
}

/** The link targets of a Markdown file: inline links and images, and reference definitions. */
export function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)];
  const defs = [...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)];
  return [...inline, ...defs].map((m) => m[1]!);
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(file: string): Set<string> {
  let a = anchorCache.get(file);
  if (!a) {
    a = anchorsOf(readFileSync(file, "utf8"));
    anchorCache.set(file, a);
  }
  return a;
}

/** Why `target`, linked from `from` (a repo file), does not resolve; undefined when it does. */
function problem(from: string, target: string, base = dirname(from)): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: …: not ours to check
  const [rawPath = "", anchor] = target.split("#", 2);
  const path = decodeURIComponent(rawPath);
  const file = path === "" ? from : path.startsWith("/") ? join(root, path) : resolve(base, path);
  if (relative(root, file).startsWith("..")) return `${target}: outside the repository`;
  if (!existsSync(file)) return `${target}: no such file`;
  if (anchor === undefined || anchor === "") return undefined;
  if (statSync(file).isDirectory() || !file.endsWith(".md"))
    return `${target}: an anchor into a non-Markdown file`;
  return anchorsOfFile(file).has(anchor) ? undefined : `${target}: no heading with that anchor`;
}

const markdownFiles = globSync("**/*.md", { cwd: root, exclude: IGNORED })
  .map((f) => f.split("\\").join("/"))
  .sort();

describe("documentation links", () => {
  it("slugs headings as GitHub does", () => {
    assert.equal(
      githubSlug("The `kubectl vireo` plugin and the dashboard"),
      "the-kubectl-vireo-plugin-and-the-dashboard",
    );
    assert.equal(githubSlug("Did my revision succeed? (CI)"), "did-my-revision-succeed-ci");
    assert.equal(
      githubSlug("2026-12-02: memory, writes and the side-by-side with Flagger"),
      "2026-12-02-memory-writes-and-the-side-by-side-with-flagger",
    );
    assert.equal(githubSlug("Heading with an em dash — here"), "heading-with-an-em-dash--here");
    assert.equal(githubSlug("[SMI](smi.md) and `snake_case`"), "smi-and-snake_case");
    assert.deepEqual([...anchorsOf("# A\n## A\n```\n# not a heading\n```\n## A")], ["a", "a-1", "a-2"]);
  });

  it("finds links in prose, not in code", () => {
    assert.deepEqual(linksOf('[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n![d](p.png "t")\n[e]: r.md'), [
      "x.md",
      "p.png",
      "r.md",
    ]);
  });

  it("README.md and docs/ exist, and the README stays short", () => {
    assert.ok(markdownFiles.includes("README.md"));
    assert.ok(markdownFiles.includes("docs/README.md"));
    const lines = readFileSync(join(root, "README.md"), "utf8").trimEnd().split("\n").length;
    assert.ok(lines <= 250, `README.md has ${lines} lines; move detail into docs/ (at most 250)`);
  });

  it("every relative link and #anchor in the repository's Markdown resolves", () => {
    const broken: string[] = [];
    for (const f of markdownFiles) {
      const file = join(root, f);
      for (const target of linksOf(readFileSync(file, "utf8"))) {
        const why = problem(file, target);
        if (why) broken.push(`${f}: ${why}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it("every docs page is reachable from the docs index or the README", () => {
    const linked = new Set<string>();
    for (const f of ["README.md", "docs/README.md"]) {
      for (const target of linksOf(readFileSync(join(root, f), "utf8"))) {
        const path = target.split("#")[0]!;
        if (path && !/^[a-z]+:/i.test(path)) linked.add(relative(root, resolve(root, dirname(f), path)));
      }
    }
    const orphans = markdownFiles.filter((f) => f.startsWith("docs/") && !linked.has(f));
    assert.deepEqual(orphans, [], "link these pages from docs/README.md");
  });
});

/** Every `description` in a JSON schema, with its path. */
function descriptions(node: unknown, path: string, out: { path: string; text: string }[]): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) descriptions(n, `${path}[${i}]`, out);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "description" && typeof v === "string") out.push({ path, text: v });
      else descriptions(v, `${path}.${k}`, out);
    }
  }
}

/** Repository paths of Markdown files a text cites: `docs/x.md#anchor`, `README.md`, `src/mesh/README.md`. */
const CITED_MD = /(?<![\w/.-])((?:[\w.-]+\/)*[\w.-]+\.md(?:#[\w-]+)?)/g;

describe("links outside Markdown", () => {
  it("CRD descriptions (kubectl explain, the Rollout reference) cite docs that exist, never the README", () => {
    const crd = buildRolloutCrd() as { spec: { versions: { schema: unknown }[] } };
    const found: { path: string; text: string }[] = [];
    descriptions(crd.spec.versions[0]!.schema, "", found);
    assert.ok(found.length > 100, "the walk found the descriptions");
    const broken: string[] = [];
    let cited = 0;
    for (const { path, text } of found) {
      if (/\bREADME\b/.test(text)) broken.push(`${path}: cites the README; cite a page under docs/`);
      for (const [, ref] of text.matchAll(CITED_MD)) {
        cited++;
        const why = problem(join(root, "README.md"), ref!, root);
        if (why) broken.push(`${path}: ${why}`);
      }
    }
    assert.ok(cited > 0, "some description cites a docs page");
    assert.deepEqual(broken, []);
  });

  it("comments and strings in code cite Markdown files that exist", () => {
    const names = new Set(markdownFiles.map((f) => f.split("/").at(-1)));
    const broken: string[] = [];
    const code = globSync("{src,bench,e2e,deploy,dashboard,test,charts}/**/*.{ts,yaml,sh}", {
      cwd: root,
      exclude: IGNORED,
    });
    for (const f of code) {
      if (f.endsWith("docs-links.test.ts")) continue;
      const text = readFileSync(join(root, f), "utf8");
      for (const [, ref] of text.matchAll(CITED_MD)) {
        const path = ref!.split("#")[0]!;
        if (path.startsWith(".")) continue; // a link inside generated Markdown: checked once it is written
        // A bare name ("README.md") is fine when such a file exists; a path must resolve from the root.
        const why = path.includes("/") ? problem(join(root, "README.md"), ref!, root) : undefined;
        if (why || (!path.includes("/") && !names.has(path)))
          broken.push(`${f}: ${why ?? `${ref}: no such file`}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
