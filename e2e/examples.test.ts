// Every example in examples/ is accepted by the API server and adopted by the controller on its mesh.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { MESH_PROVIDERS } from "../src/mesh/registry.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { waitFor } from "./cluster/wait.ts";
import { applyUntilHealthy, getJson } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const EXAMPLES = resolve(import.meta.dirname, "../examples");
/**
 * The routing object each provider's Rollout must produce (its descriptor's first routing kind); provider kubernetes
 * has none (its route is the root Service's selector).
 */
const ROUTING: Record<string, string> = Object.fromEntries(
  MESH_PROVIDERS.flatMap((p) => {
    const kind = p.routingKinds[0];
    return kind ? [[p.name, `${kind.plural}.${kind.group}`]] : [];
  }),
);

/** One object an example's header says Vireo writes: `Kind[.group] name`. */
interface Written {
  kind: string;
  group: string;
  name: string;
}

/**
 * The objects listed after "# Vireo writes:" (continued on "#   " lines): `Kind.group name` for mesh kinds,
 * `Deployment name` / `Service name` for the workload's.
 */
function writtenObjects(text: string): Written[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith("# Vireo writes:"));
  if (start < 0) return [];
  let list = lines[start]!.slice("# Vireo writes:".length);
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith("#   ")) break;
    list += `,${l.slice(1)}`;
  }
  return list
    .split(",")
    .map((item) => item.replace(/\(.*\)/, "").trim())
    .filter((item) => item !== "")
    .map((item) => {
      const [qualified, name] = item.split(/\s+/);
      const dot = qualified!.indexOf(".");
      const kind = dot < 0 ? qualified! : qualified!.slice(0, dot);
      const group = dot < 0 ? (kind === "Deployment" ? "apps" : "") : qualified!.slice(dot + 1);
      return { kind, group, name: name! };
    });
}

let cluster: Cluster;
let controller: ControllerProcess;

describe("examples", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      // The Istio example routes a public host: the operator allows it for the example's namespace.
      args: ["--allowed-hosts=shop=checkout.example.com"],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"));
  it("there is one example per provider", () => {
    const providers = files.flatMap((f) =>
      parseAllDocuments(readFileSync(join(EXAMPLES, f), "utf8"))
        .map((d) => d.toJSON())
        .filter((o) => o?.kind === "Rollout")
        .map((o) => o.spec.provider),
    );
    assert.deepEqual([...new Set(providers)].sort(), Object.keys(ROUTING).sort());
  });

  for (const file of files) {
    it(`${file} applies and its Rollout becomes Healthy with its routing object`, async () => {
      const text = readFileSync(join(EXAMPLES, file), "utf8");
      const rollout = await applyUntilHealthy(cluster, text);
      const { namespace } = rollout.metadata;
      assert.equal(rollout.status?.canaryWeight, 0);
      const routing = await getJson(cluster, [
        ROUTING[rollout.spec.provider]!,
        "-n",
        namespace,
        "-l",
        "app.kubernetes.io/managed-by=vireo",
      ]);
      assert.ok(
        ((routing as { items: unknown[] }).items ?? []).length >= 1,
        `no ${ROUTING[rollout.spec.provider]} created`,
      );

      // The header names exactly the objects Vireo writes: each exists, and no mesh object of ours is unnamed.
      const written = writtenObjects(text);
      assert.ok(written.length >= 4, `${file} has no "# Vireo writes:" header`);
      for (const w of written) {
        const resource = w.group ? `${w.kind.toLowerCase()}.${w.group}` : w.kind.toLowerCase();
        assert.ok(
          await getJson(cluster, [`${resource}/${w.name}`, "-n", namespace]),
          `${resource}/${w.name}`,
        );
      }
      const provider = MESH_PROVIDERS.find((p) => p.name === rollout.spec.provider)!;
      const meshKinds = new Map(
        [...provider.routingKinds, ...provider.policyTypes].map((k) => [`${k.kind}.${k.group}`, k]),
      );
      const named = written
        .filter((w) => meshKinds.has(`${w.kind}.${w.group}`))
        .map((w) => `${w.kind}.${w.group} ${w.name}`)
        .sort();
      const ours = async () => {
        const found: string[] = [];
        for (const [key, k] of meshKinds) {
          const list = await getJson<{ items?: { metadata: { name: string } }[] }>(cluster, [
            `${k.plural}.${k.group}`,
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/managed-by=vireo",
          ]);
          for (const o of list?.items ?? []) found.push(`${key} ${o.metadata.name}`);
        }
        return found.sort();
      };
      // The access policy is written with the step to Healthy, so it may land a poll after it.
      await waitFor(async () => (await ours()).join() === named.join(), {
        what: `${file}: the mesh objects Vireo wrote (${named.join("; ")})`,
        timeoutMs: 30_000,
        intervalMs: 500,
      }).catch(async (err: unknown) => {
        assert.deepEqual(await ours(), named, String(err));
      });
    });
  }
});
