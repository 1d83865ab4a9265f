// Mesh-adapter failures a fast retry won't fix: a name taken by someone else, an inexpressible policy, a missing input.

/** Why a mesh operation cannot succeed by retrying at once. */
export const MeshErrorKind = {
  /** An object with our name exists but is not managed by this Rollout; Vireo refuses to take it over. */
  NotOwned: "NotOwned",
  /** The model asks for something this mesh API cannot express. */
  Unsupported: "Unsupported",
  /** Something the objects are derived from (the primary/canary Service) doesn't exist yet; retry later. */
  Pending: "Pending",
  /** A Gateway refused the route (`Accepted=False` / `ResolvedRefs=False` in status.parents); a person must fix it. */
  NotAccepted: "NotAccepted",
  /**
   * The API server does not serve the group/version the adapter writes (a CRD version dropped or not installed
   * since discovery last looked): a discovery fact, never "the object does not exist". Re-detection fixes it.
   */
  NotServed: "NotServed",
  /** The provider has no adapter yet. */
  NotImplemented: "NotImplemented",
} as const;
/** One of {@link MeshErrorKind}. */
export type MeshErrorKind = (typeof MeshErrorKind)[keyof typeof MeshErrorKind];

/**
 * A mesh-adapter error that retrying right away won't fix. Except for `Pending` (requeue with backoff), a person
 * must act: the reconciler should surface it (condition + Warning Event). Transient API failures are thrown as
 * the kube layer's classified `KubeApiError` instead (a 409 Conflict left after retries among them).
 */
export class MeshError extends Error {
  override readonly name = "MeshError";
  readonly kind: MeshErrorKind;

  constructor(kind: MeshErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}
