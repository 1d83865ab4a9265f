// Pins the built-in path to client-node's reading of the same kubeconfig: for each fixture, the server, TLS
// material, Authorization and namespace both produce must agree, except for the deliberate differences listed
// (each with its reason), which must still differ — so the list stays true when either side changes.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { SERVICE_ACCOUNT_DIR } from "./builtin.ts";
import { type KubeconfigSource, loadKubeconfig } from "./load.ts";

/** What a request ends up carrying, as compared. */
interface View {
  server: string;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** Whether the server's certificate is verified. */
  verify: boolean;
  servername: string | undefined;
  authorization: string | undefined;
  namespace: string;
  /** Set when loading failed; the other fields are then empty. */
  error?: string;
}
type Field = keyof View;

interface Fixture {
  name: string;
  /** How Vireo's loader is pointed at it. */
  ours: KubeconfigSource;
  /** How client-node is pointed at the same files. */
  theirs: (kc: KubeConfig) => void;
  /** A deliberate difference: why we differ, and the fields where we produce something else (our values). */
  differs?: { reason: string; ours: Partial<View> };
}

const root = mkdtempSync(join(tmpdir(), "vireo-differential-"));
const b64 = (s: string) => Buffer.from(s).toString("base64");
const file = (path: string, text: string): string => {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
};
const kubeconfig = (name: string, doc: Record<string, unknown>): string =>
  file(join(root, name, "config"), stringify({ apiVersion: "v1", kind: "Config", ...doc }));
const single = (
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  context: Record<string, unknown> = {},
): string =>
  kubeconfig(name, {
    clusters: [{ name: "c", cluster: { server: "https://api.example:6443", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u", ...context } }],
    "current-context": "x",
  });
const fromFile = (path: string) => ({ ours: { path }, theirs: (kc: KubeConfig) => kc.loadFromFile(path) });
const fromList = (paths: string[], context?: string) => ({
  ours: { list: paths.join(delimiter), context },
  theirs: (kc: KubeConfig) =>
    withEnv({ KUBECONFIG: paths.join(delimiter) }, () => {
      kc.loadFromDefault();
      if (context) kc.setCurrentContext(context);
    }),
});

function withEnv(env: Record<string, string>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A Pod's ServiceAccount mount under `prefix` (client-node's loadFromCluster takes the same prefix). */
function serviceAccount(prefix: string, token: string): string {
  const dir = join(prefix, SERVICE_ACCOUNT_DIR);
  file(join(dir, "ca.crt"), "SA-CA");
  file(join(dir, "token"), token);
  file(join(dir, "namespace"), "vireo-system");
  return dir;
}
const inCluster = (name: string, port: string, token: string) => {
  const prefix = join(root, name);
  return {
    ours: { inCluster: { host: "10.96.0.1", port }, serviceAccountDir: serviceAccount(prefix, token) },
    theirs: (kc: KubeConfig) =>
      withEnv({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: port }, () =>
        kc.loadFromCluster(prefix),
      ),
  };
};

const certFiles = (name: string) => ({
  ca: file(join(root, name, "pki", "ca.crt"), "CA-FROM-FILE"),
  cert: file(join(root, name, "pki", "client.crt"), "CERT-FROM-FILE"),
  key: file(join(root, name, "pki", "client.key"), "KEY-FROM-FILE"),
});

/** Two files in different folders, each naming certificates relative to its own folder. */
function relativePair(name: string, secondCurrent?: string): string[] {
  file(join(root, name, "a", "certs", "client.crt"), "CERT-A");
  file(join(root, name, "a", "certs", "client.key"), "KEY-A");
  file(join(root, name, "b", "ca.crt"), "CA-B");
  const a = file(
    join(root, name, "a", "config"),
    stringify({
      users: [
        { name: "u", user: { "client-certificate": "certs/client.crt", "client-key": "certs/client.key" } },
      ],
      contexts: [
        { name: "x", context: { cluster: "c", user: "u" } },
        { name: "shop", context: { cluster: "c", user: "u", namespace: "shop" } },
      ],
      "current-context": "x",
    }),
  );
  const b = file(
    join(root, name, "b", "config"),
    stringify({
      clusters: [
        { name: "c", cluster: { server: "https://b.example:6443", "certificate-authority": "ca.crt" } },
        {
          name: "c2",
          cluster: { server: "https://second-wins.example:6443", "certificate-authority": "ca.crt" },
        },
      ],
      users: [{ name: "u2", user: { token: "b-token" } }],
      contexts: [{ name: "y", context: { cluster: "c2", user: "u2" } }],
      ...(secondCurrent ? { "current-context": secondCurrent } : {}),
    }),
  );
  return [a, b];
}

const FIXTURES: Fixture[] = [
  {
    name: "static token, inline CA",
    ...fromFile(single("token", { token: "t0k" }, { "certificate-authority-data": b64("CA") })),
  },
  {
    name: "token file (kubectl's tokenFile)",
    ...fromFile(single("tokenfile", { tokenFile: file(join(root, "tokenfile", "token"), "from-file\n") })),
    differs: {
      reason:
        "tokenFile is kubectl's key: client-go reads it trimmed and re-reads it every minute; client-node reads only " +
        "its own 'token-file', once, untrimmed, and sends nothing here",
      ours: { authorization: "Bearer from-file" },
    },
  },
  {
    name: "client certificate and key as data",
    ...fromFile(
      single(
        "certdata",
        { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
        { "certificate-authority-data": b64("CA") },
      ),
    ),
  },
  {
    name: "client certificate, key and CA as files",
    ...(() => {
      const f = certFiles("certfiles");
      return fromFile(
        single(
          "certfiles",
          { "client-certificate": f.cert, "client-key": f.key },
          { "certificate-authority": f.ca },
        ),
      );
    })(),
  },
  {
    name: "CA as both data and file",
    ...fromFile(
      single(
        "cadataandfile",
        { token: "t" },
        {
          "certificate-authority-data": b64("CA-FROM-DATA"),
          "certificate-authority": certFiles("cadataandfile").ca,
        },
      ),
    ),
    differs: {
      reason: "client-go lets certificate-authority-data override the file; client-node reads the file first",
      ours: { ca: "CA-FROM-DATA" },
    },
  },
  {
    name: "insecure-skip-tls-verify",
    ...fromFile(single("insecure", { token: "t" }, { "insecure-skip-tls-verify": true })),
  },
  {
    name: "tls-server-name",
    ...fromFile(single("servername", { token: "t" }, { "tls-server-name": "kubernetes.default.svc" })),
  },
  {
    name: "basic auth",
    ...fromFile(single("basic", { username: "admin", password: "s3cret" })),
  },
  {
    name: "in-cluster (fake ServiceAccount mount)",
    ...inCluster("incluster", "6443", "sa-token"),
  },
  {
    name: "in-cluster on port 8080",
    ...inCluster("incluster8080", "8080", "sa-token"),
    differs: {
      reason:
        "client-go's InClusterConfig always speaks https; client-node picks http on ports 80, 8001 and 8080, then " +
        "refuses http without insecure-skip-tls-verify",
      ours: { error: undefined },
    },
  },
  {
    name: "in-cluster token file ending in a newline",
    ...inCluster("incluster-newline", "443", "sa-token\n"),
    differs: {
      reason:
        "client-go trims token files; client-node keeps the newline, which node:http refuses in a header",
      ours: { authorization: "Bearer sa-token" },
    },
  },
  {
    name: "$KUBECONFIG of two files in two folders, relative paths",
    ...fromList(relativePair("multi")),
  },
  {
    name: "$KUBECONFIG with --context and the context's namespace",
    ...fromList(relativePair("multi-context"), "shop"),
  },
  {
    name: "$KUBECONFIG whose second file also sets current-context",
    ...fromList(relativePair("multi-current", "y")),
    differs: {
      reason:
        "kubectl: the first file that sets current-context wins; client-node lets the last one win (another " +
        "context, so another cluster and user)",
      ours: { server: "https://b.example:6443", authorization: undefined, cert: "CERT-A", key: "KEY-A" },
    },
  },
  {
    name: "$KUBECONFIG with a name defined in two files",
    ...fromList([
      single("dup-a", { token: "first" }),
      single("dup-b", { token: "second" }, { server: "https://second.example:6443" }),
    ]),
    differs: {
      reason:
        "kubectl merges first-wins and allows the same name in several files; client-node throws 'Duplicate cluster'",
      ours: { error: undefined },
    },
  },
];

async function ours(f: Fixture): Promise<View & { via: string }> {
  const loaded = await loadKubeconfig({ ...f.ours, home: join(root, "no-home") });
  const o: RequestOptions = {};
  await loaded.connection.authenticate(o);
  return { via: loaded.via, ...view(loaded.connection.server, o, loaded.namespace) };
}

async function theirs(f: Fixture): Promise<View> {
  const kc = new KubeConfig();
  const o: RequestOptions = {};
  try {
    f.theirs(kc);
    await kc.applyToHTTPSOptions(o);
  } catch (err) {
    return { ...view("", {}, ""), error: (err as Error).message };
  }
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  return view(kc.getCurrentCluster()?.server ?? "", o, namespace);
}

function view(server: string, o: RequestOptions, namespace: string): View {
  const text = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const headers = (o.headers ?? {}) as Record<string, string>;
  // client-node sets basic auth as `auth`, which node:https turns into this header.
  const basic = o.auth ? `Basic ${Buffer.from(o.auth).toString("base64")}` : undefined;
  return {
    server,
    ca: text(o.ca),
    cert: text(o.cert),
    key: text(o.key),
    verify: o.rejectUnauthorized !== false,
    servername: o.servername,
    authorization: headers.Authorization ?? basic,
    namespace,
  };
}

describe("kubeconfig: the built-in path against client-node (differential)", () => {
  for (const f of FIXTURES) {
    it(f.name, async () => {
      const mine = await ours(f);
      const other = await theirs(f);
      assert.equal(
        mine.via,
        f.ours.inCluster ? "in-cluster" : "built-in",
        "the built-in path is what is pinned",
      );
      // When one side failed to load, only that is compared: the rest of its view is empty.
      const fields: Field[] = other.error
        ? ["error"]
        : ["server", "ca", "cert", "key", "verify", "servername", "authorization", "namespace", "error"];
      const deliberate = f.differs?.ours ?? {};
      for (const field of fields) {
        if (!(field in deliberate)) {
          assert.deepEqual(mine[field], other[field], `${f.name}: ${field} must agree with client-node`);
          continue;
        }
        assert.notDeepEqual(
          mine[field],
          other[field],
          `${f.name}: listed difference in ${field} no longer holds`,
        );
        assert.deepEqual(mine[field], deliberate[field], `${f.name}: our ${field}`);
      }
    });
  }

  it("the deliberate differences, each with its reason", () => {
    const list = FIXTURES.flatMap((f) =>
      f.differs ? [`${f.name} (${Object.keys(f.differs.ours).join(", ")}): ${f.differs.reason}`] : [],
    );
    console.log(`deliberate differences from client-node:\n  ${list.join("\n  ")}`);
    assert.equal(list.length, 6);
    assert.ok(
      FIXTURES.every((f) => !f.differs || f.differs.reason.length > 40),
      "every difference says why",
    );
  });
});
