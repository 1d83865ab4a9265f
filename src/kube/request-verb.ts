// Maps an HTTP request to its Kubernetes verb (get/list/watch/…), mirroring the API server's RequestInfo.

/** Kubernetes API verbs we count. */
export const VERBS = [
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
] as const;
/** One of {@link VERBS}. */
export type Verb = (typeof VERBS)[number];

/**
 * The Kubernetes verb of a request: GET on a collection is `list` (or `watch` with `watch=true`), GET on a
 * named object or subresource is `get`, POST `create`, PUT `update`, PATCH `patch`, DELETE on a collection
 * `deletecollection`. Non-resource paths (`/apis`, `/version`) count as `get`.
 */
export function verbFor(method: string, url: string): Verb {
  const u = new URL(url, "http://localhost");
  const m = method.toUpperCase();
  if (m === "POST") return "create";
  if (m === "PUT") return "update";
  if (m === "PATCH") return "patch";
  const isCollection = isCollectionPath(u.pathname);
  if (m === "DELETE") return isCollection ? "deletecollection" : "delete";
  if (!isCollection) return "get";
  const watch = u.searchParams.get("watch");
  return watch === "true" || watch === "1" ? "watch" : "list";
}

/** True when `path` names a resource collection (`/api/v1/pods`, `/apis/g/v/namespaces/ns/things`). */
function isCollectionPath(path: string): boolean {
  const parts = path.split("/").filter(Boolean);
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 2) rest = parts.slice(2);
  else if (parts[0] === "apis" && parts.length >= 3) rest = parts.slice(3);
  else return false;
  if (rest.length === 0) return false; // discovery document of a group/version
  if (rest[0] === "namespaces") {
    // namespaces (list) | namespaces/ns (get) | namespaces/ns/sub? → namespace subresource only when 3 parts
    // and not followed by a name; `namespaces/ns/<plural>` is a namespaced collection.
    if (rest.length === 1) return true;
    if (rest.length === 2) return false;
    return rest.length === 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] as string);
  }
  return rest.length === 1;
}

// Subresources of the Namespace object itself, which look like `namespaces/<ns>/<x>`.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** Resource coordinates parsed from an API path, for error messages (`rollouts.vireo.dev/status`). */
export interface PathInfo {
  resource?: string;
  namespace?: string;
  name?: string;
}

/** Parses `/api/v1/...` and `/apis/<group>/<version>/...` paths into resource, namespace and name. */
export function parseResourcePath(path: string): PathInfo {
  const parts = new URL(path, "http://localhost").pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let group = "";
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 2) rest = parts.slice(2);
  else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1] as string;
    rest = parts.slice(3);
  } else return {};
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] as string)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest;
  if (!plural) return {};
  const resource = `${plural}${group ? `.${group}` : ""}${sub ? `/${sub}` : ""}`;
  return { resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}
