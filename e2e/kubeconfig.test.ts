// The kubeconfig loader on a real control plane: the controller and `kubectl vireo` reach the API server only
// through an HTTP CONNECT proxy (proxy-url), and `get -w` keeps working across exec credentials that expire and
// that the API server then really refuses (ServiceAccount tokens bound to a Secret the test deletes).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { startConnectProxy, startTrap } from "../src/kube/testing/connect-proxy.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, setImage, waitForRollout } from "./support/app.ts";
import { startController } from "./support/controller-process.ts";
import { readOnlyKubeconfig, runPlugin, startPlugin } from "./support/plugin.ts";

let cluster: Cluster;

/** `path`'s kubeconfig with its cluster's server and proxy-url replaced. */
function rewrite(path: string, out: string, cluster: Record<string, unknown>): string {
  const doc = parse(readFileSync(path, "utf8"));
  for (const c of doc.clusters) Object.assign(c.cluster, cluster);
  writeFileSync(out, stringify(doc), { mode: 0o600 });
  return out;
}

/** GET /api with a bearer token straight to the API server: its HTTP status. */
function statusWithToken(token: string): Promise<number> {
  const admin = parse(readFileSync(cluster.kubeconfigPath, "utf8"));
  const ca = Buffer.from(admin.clusters[0].cluster["certificate-authority-data"], "base64");
  return new Promise((resolve, reject) => {
    const r = request(
      `${cluster.apiServerUrl}/api`,
      { ca, headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    r.once("error", reject);
    r.end();
  });
}

/** Applies the app in `ns` and waits until its Rollout is Healthy. */
async function deployHealthy(
  ns: string,
  steps?: Parameters<typeof appManifests>[0]["steps"],
): Promise<Rollout> {
  await apply(cluster, appManifests({ namespace: ns, ...(steps ? { steps } : {}) }));
  return waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
}

/** Changes the image and waits until the new revision is promoted. */
async function promoteNewImage(ns: string, healthy: Rollout): Promise<Rollout> {
  await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
  return waitForRollout(
    cluster,
    ns,
    "podinfo",
    "the new revision promoted",
    (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== healthy.status?.stableRevision,
    120_000,
  );
}

describe("kubeconfig on a real API server", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("the controller and kubectl vireo go through proxy-url; the server's address is never dialled", async () => {
    // The kubeconfigs name a loopback port where nothing answers but a trap counting dials; only the proxy maps it
    // to the API server, so a client that ignored proxy-url could not work (and would show up in the trap).
    const trap = await startTrap();
    const api = new URL(cluster.apiServerUrl);
    const proxy = await startConnectProxy({ [`127.0.0.1:${trap.port}`]: `127.0.0.1:${api.port}` });
    const proxied = { server: `https://127.0.0.1:${trap.port}`, "proxy-url": proxy.url };
    const controllerConfig = rewrite(
      cluster.controllerKubeconfigPath,
      join(cluster.dir, "controller-proxied.kubeconfig"),
      proxied,
    );
    const adminConfig = rewrite(
      cluster.kubeconfigPath,
      join(cluster.dir, "admin-proxied.kubeconfig"),
      proxied,
    );
    const controller = await startController({
      kubeconfigPath: controllerConfig,
      logDir: join(cluster.dir, "logs"),
    });
    try {
      const started = proxy.tunnels();
      assert.ok(started > 0, "the controller's start-up went through the proxy");
      const ns = "proxied";
      await promoteNewImage(ns, await deployHealthy(ns));
      const reconciled = proxy.tunnels();
      const got = await runPlugin(adminConfig, ["get", "podinfo", "-n", ns]);
      assert.equal(got.code, 0, got.stderr);
      assert.match(got.stdout, /^Phase:\s+Healthy$/m);
      assert.match(got.stdout, /Replicas:\s+primary 2\/2 ready/);
      assert.ok(proxy.tunnels() > reconciled, "the plugin went through the proxy");
      assert.match(readFileSync(controller.logPath, "utf8"), /"kubeconfig":"client-node"/);
      assert.equal(trap.dials(), 0, "nothing dialled the server's own address");
      assert.deepEqual(proxy.refused(), []);
      console.log(
        `proxy tunnels: ${started} at controller start, ${reconciled} after a rollout, ${proxy.tunnels()} after kubectl vireo get`,
      );
    } finally {
      await controller.stop();
      await proxy.close();
      await trap.close();
    }
  });

  it("get -w keeps printing across exec credentials that expire and are then refused", async () => {
    const ns = "exec-expiry";
    const controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
    try {
      // Pauses long enough that the rollout outlives two credentials of TTL_S seconds.
      const healthy = await deployHealthy(ns, [
        { setWeight: 20 },
        { pause: { duration: "5s" } },
        { setWeight: 40 },
        { pause: { duration: "5s" } },
        { setWeight: 60 },
        { pause: { duration: "5s" } },
        { setWeight: 80 },
        { pause: { duration: "5s" } },
      ]);
      // RBAC of a read-only user (its own token kubeconfig is not used: the exec plugin mints the tokens).
      await readOnlyKubeconfig(cluster, ns, "exec-viewer");

      // The plugin: each run creates a Secret, mints a 10-minute ServiceAccount token bound to it (the shortest the
      // API server grants) and reports it as expiring TTL seconds later. Deleting the Secret after that makes the
      // API server refuse the token: the expiry is real, not just a timestamp.
      const TTL_S = 6;
      const runs = join(cluster.dir, "exec-runs");
      writeFileSync(runs, "");
      const plugin = join(cluster.dir, "exec-plugin.sh");
      writeFileSync(
        plugin,
        `#!/bin/sh
set -e
k() { "${join(cluster.binDir, "kubectl")}" --kubeconfig "${cluster.kubeconfigPath}" -n ${ns} "$@"; }
n=$(( $(wc -l < "${runs}") + 1 ))
k create secret generic "exec-token-$n" --from-literal=run="$n" >/dev/null
token=$(k create token exec-viewer --bound-object-kind Secret --bound-object-name "exec-token-$n" --duration 10m)
exp=$(date -u -d "+${TTL_S} seconds" +%Y-%m-%dT%H:%M:%SZ)
echo "exec-token-$n $exp $token" >> "${runs}"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$token" "$exp"
`,
        { mode: 0o755 },
      );
      const execConfig = rewrite(cluster.kubeconfigPath, join(cluster.dir, "exec.kubeconfig"), {});
      const doc = parse(readFileSync(execConfig, "utf8"));
      doc.users = [
        {
          name: "exec-viewer",
          user: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: plugin,
              interactiveMode: "Never",
            },
          },
        },
      ];
      doc.contexts[0].context.user = "exec-viewer";
      doc.contexts[0].context.namespace = ns;
      writeFileSync(execConfig, stringify(doc), { mode: 0o600 });
      const minted = () =>
        readFileSync(runs, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => {
            const [secret, exp, token] = l.split(" ");
            return { secret: secret as string, expires: Date.parse(exp as string), token: token as string };
          });

      // Revoke each token once its reported expiry has passed; remember where the output was at that moment.
      const revoked: { secret: string; token: string; outputAt: number }[] = [];
      const watch = startPlugin(execConfig, ["get", "podinfo", "--watch"]);
      let revoking = true;
      const revoker = (async () => {
        while (revoking) {
          for (const m of minted()) {
            if (m.expires + 500 > Date.now() || revoked.some((r) => r.secret === m.secret)) continue;
            const del = await cluster.kubectl(["delete", "secret", m.secret, "-n", ns, "--wait=false"]);
            assert.equal(del.code, 0, del.stderr);
            revoked.push({ secret: m.secret, token: m.token, outputAt: watch.output().length });
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      try {
        await watch.waitFor(/Phase:\s+Healthy/, 60_000);
        const done = await promoteNewImage(ns, healthy);
        await watch.waitFor(
          new RegExp(`Phase:\\s+Healthy[\\s\\S]*Revisions:\\s+stable ${done.status?.stableRevision}`),
          60_000,
        );
      } finally {
        revoking = false;
        await revoker;
        assert.equal(await watch.stop(), 0, watch.stderr());
      }

      const out = watch.output();
      assert.ok(revoked.length >= 2, `tokens expired and revoked during the watch: ${revoked.length}`);
      // The API server really refuses every revoked token (the Secret it was bound to is gone).
      for (const r of revoked) {
        let status = 0;
        for (let i = 0; i < 40 && status !== 401; i++) {
          status = await statusWithToken(r.token);
          if (status !== 401) await new Promise((res) => setTimeout(res, 250));
        }
        assert.equal(status, 401, `${r.secret}'s token is refused`);
      }
      // Frames kept coming after the second revocation, and were drawn from fresh reads (Deployments and Events
      // are read with the current credential on every change; a refused one would leave "-" and no Events).
      const second = revoked[1] as { outputAt: number };
      const later = out
        .slice(second.outputAt)
        .split(/\n(?=Name:)/)
        .filter((f) => f.includes("Phase:"));
      assert.ok(later.length >= 1, `frames after the second expiry: ${later.length}\n${out.slice(-3000)}`);
      for (const frame of later) {
        assert.match(frame, /Replicas:\s+primary \d+\/\d+ ready\s+canary \d+\/\d+ ready/, frame);
        assert.match(frame, /Events:/, frame);
      }
      assert.doesNotMatch(watch.stderr(), /unauthorized/i);
      const runCount = minted().length;
      assert.ok(runCount >= 3, `plugin runs: ${runCount}`);
      console.log(
        `exec plugin runs: ${runCount}; tokens expired and refused: ${revoked.length}; frames after the second expiry: ${later.length}`,
      );
    } finally {
      await controller.stop();
    }
  });
});
