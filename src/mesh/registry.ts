// Maps a Rollout's spec.provider to the mesh adapter that renders it.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { MeshClient } from "./object-store.ts";
import { SmiAdapter, type SmiVersions } from "./smi.ts";
import type { MeshAdapter } from "./types.ts";

/** A Rollout's `spec.provider`. */
export type MeshProvider = RolloutSpec["provider"];

/** What adapters need, gathered once at start-up by the composition root. */
export interface MeshAdapterDeps {
  /** The controller's `KubeClients` (or anything with its `request`). */
  client: MeshClient;
  /** SMI versions from `detectSmiVersions(client)`; required for provider "smi". */
  smi?: SmiVersions;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

/**
 * Returns the adapter for `provider`. Throws {@link MeshError} `NotImplemented` for providers without an adapter
 * yet, and `Unsupported` when the cluster lacks the provider's API (e.g. "smi" without a served TrafficSplit).
 */
export function createMeshAdapter(provider: MeshProvider, deps: MeshAdapterDeps): MeshAdapter {
  switch (provider) {
    case "smi": {
      if (!deps.smi) {
        throw new MeshError(
          MeshErrorKind.Unsupported,
          'provider "smi" needs the SMI TrafficSplit API (split.smi-spec.io) installed in the cluster',
        );
      }
      return new SmiAdapter({
        client: deps.client,
        splitVersion: deps.smi.split,
        accessVersion: deps.smi.access,
        specsVersion: deps.smi.specs,
        conflictRetries: deps.conflictRetries,
      });
    }
    case "istio":
    case "linkerd":
    case "gateway-api":
      throw new MeshError(MeshErrorKind.NotImplemented, `mesh provider "${provider}" is not implemented yet`);
    default: {
      const unknown: never = provider;
      throw new MeshError(MeshErrorKind.NotImplemented, `unknown mesh provider "${String(unknown)}"`);
    }
  }
}
