// Self-signed PKI for one e2e cluster: a CA, the apiserver serving cert, client certs and the SA signing key.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its private key on disk (PEM). */
export interface CertPair {
  cert: string;
  key: string;
}

/** Identities that authenticate with client certificates (CN = user, O = groups). */
export interface ClientIdentity {
  name: string;
  user: string;
  groups: string[];
}

/** All PKI material for one cluster. */
export interface Pki {
  ca: CertPair;
  serving: CertPair;
  clients: Record<string, CertPair>;
  /** Service-account token signing key (private) and its public half for verification. */
  saKey: string;
  saPub: string;
}

/** Short-lived on purpose: test clusters live minutes, `cluster:up` ones days at most. */
const VALID_DAYS = "30";

/**
 * Generates the cluster's PKI in `<dir>`. ECDSA P-256 everywhere because it takes milliseconds (RSA-2048 key
 * generation would dominate warm start-up on 2 cores). Client certs are issued in parallel.
 */
export async function generatePki(openssl: string, dir: string, clients: ClientIdentity[]): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  const caConf = writeConf(
    dir,
    "ca",
    "vireo-e2e-ca",
    [],
    [
      "basicConstraints = critical,CA:TRUE",
      "keyUsage = critical,keyCertSign,cRLSign,digitalSignature",
      "subjectKeyIdentifier = hash",
    ],
  );
  await opensslReq(openssl, caConf, ca, undefined);

  const serving = { cert: join(dir, "apiserver.crt"), key: join(dir, "apiserver.key") };
  const servingConf = writeConf(
    dir,
    "apiserver",
    "kube-apiserver",
    [],
    [
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage = serverAuth",
      // In-cluster names too, so a client that resolves kubernetes.default.svc to loopback verifies.
      "subjectAltName = IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
    ],
  );
  const issued: Promise<void>[] = [opensslReq(openssl, servingConf, serving, ca)];

  const clientPairs: Record<string, CertPair> = {};
  for (const c of clients) {
    const pair = { cert: join(dir, `${c.name}.crt`), key: join(dir, `${c.name}.key`) };
    clientPairs[c.name] = pair;
    const conf = writeConf(dir, c.name, c.user, c.groups, [
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage = clientAuth",
    ]);
    issued.push(opensslReq(openssl, conf, pair, ca));
  }

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  writeFileSync(saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));

  await Promise.all(issued);
  return { ca, serving, clients: clientPairs, saKey, saPub };
}

/** Writes a minimal openssl config so results do not depend on the distro's openssl.cnf defaults. */
function writeConf(dir: string, name: string, cn: string, groups: string[], ext: string[]): string {
  const path = join(dir, `${name}.cnf`);
  const dn = [`CN = ${cn}`, ...groups.map((g, i) => `${i}.O = ${g}`)];
  writeFileSync(
    path,
    ["[req]", "distinguished_name = dn", "prompt = no", "", "[dn]", ...dn, "", "[ext]", ...ext, ""].join(
      "\n",
    ),
  );
  return path;
}

/** One `openssl req -x509` call: new P-256 key plus certificate, self-signed or issued by `ca`. */
async function opensslReq(
  openssl: string,
  conf: string,
  out: CertPair,
  ca: CertPair | undefined,
): Promise<void> {
  const args = [
    "req",
    "-x509",
    "-config",
    conf,
    "-extensions",
    "ext",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    out.key,
    "-out",
    out.cert,
    "-days",
    VALID_DAYS,
  ];
  if (ca) args.push("-CA", ca.cert, "-CAkey", ca.key);
  try {
    await run(openssl, args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl failed for ${out.cert}: ${e.stderr ?? e.message}`);
  }
}

/**
 * Issues one certificate with a new P-256 key for `cn`, carrying the X.509v3 extensions `ext` (openssl config
 * lines), signed by `ca` (self-signed when undefined); written to `<dir>/<name>.crt` and `.key`.
 */
export async function issueCert(
  openssl: string,
  dir: string,
  name: string,
  cn: string,
  ext: string[],
  ca?: CertPair,
): Promise<CertPair> {
  mkdirSync(dir, { recursive: true });
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await opensslReq(openssl, writeConf(dir, name, cn, [], ext), pair, ca);
  return pair;
}
