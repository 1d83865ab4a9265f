// Mesh-adapter failures that need a person rather than a retry: a name taken by someone else, an unsupported policy.

/** Why a mesh operation cannot succeed by retrying. */
export const MeshErrorKind = {
  /** An object with our name exists but is not managed by this Rollout; Vireo refuses to take it over. */
  NotOwned: "NotOwned",
  /** The model asks for something this mesh API cannot express. */
  Unsupported: "Unsupported",
  /** The provider has no adapter yet. */
  NotImplemented: "NotImplemented",
} as const;
/** One of {@link MeshErrorKind}. */
export type MeshErrorKind = (typeof MeshErrorKind)[keyof typeof MeshErrorKind];

/**
 * A terminal mesh-adapter error: retrying unchanged will fail the same way, so the reconciler should surface it
 * (condition + Warning Event) instead of requeueing fast. Transient API failures are thrown as the kube layer's
 * classified `KubeApiError` instead (a 409 Conflict left after retries among them).
 */
export class MeshError extends Error {
  override readonly name = "MeshError";
  readonly kind: MeshErrorKind;

  constructor(kind: MeshErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}
