// Checks every name and label value Vireo derives against its Kubernetes limit, before anything is created.
import {
  DNS_1035_LABEL,
  MAX_ROLLOUT_NAME,
  MAX_SERVICE_NAME,
  MAX_TARGET_NAME,
  NAME_LIMITS,
  type RolloutSpec,
} from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import { PRIMARY_SUFFIX, type WorkloadNames } from "./names.ts";
import type { Deployment, Service } from "./objects.ts";
import { rolloutPortName } from "./render.ts";

const SERVICE_NAME = new RegExp(DNS_1035_LABEL);

/**
 * Problems the API server would only report halfway through creating a Rollout's objects (a primary Deployment
 * created, then its Service refused). Most are also CEL rules of the CRD; they are checked again here for
 * Rollouts stored before the rules existed. Those that depend on the cluster — the target's selector values,
 * which get `-primary`, and the root Service's port names — are checked only here. Pure; the reconciler feeds
 * the issues to the engine, which reports phase Invalid and changes nothing.
 */
export function checkDerivedLimits(
  spec: RolloutSpec,
  names: WorkloadNames,
  target: Deployment | undefined,
  rootService?: Service,
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (names.rollout.length > MAX_ROLLOUT_NAME) {
    add(
      "metadata.name",
      `${names.rollout.length} characters; at most ${MAX_ROLLOUT_NAME}: it is the value of the vireo.dev/rollout label`,
    );
  }
  if (names.target.length > MAX_TARGET_NAME) {
    add(
      "spec.targetRef.name",
      `${names.primary} would have ${names.primary.length} characters; Deployment names are at most ${NAME_LIMITS.objectName}`,
    );
  }
  const servicePath = spec.service?.name === undefined ? "spec.targetRef.name" : "spec.service.name";
  if (!SERVICE_NAME.test(names.rootService)) {
    add(
      servicePath,
      `Service name "${names.rootService}" must be a DNS-1035 label (a letter first, no dots)`,
    );
  } else if (names.rootService.length > MAX_SERVICE_NAME) {
    add(
      servicePath,
      `Service ${names.primaryService} would have ${names.primaryService.length} characters; Service names are at most ${NAME_LIMITS.serviceName}`,
    );
  }
  if (target) issues.push(...selectorIssues(target));
  if (rootService) issues.push(...portIssues(spec, rootService));
  return issues;
}

/** The primary renames the values of the target's selector keys: each must stay a label value. */
function selectorIssues(target: Deployment): SpecIssue[] {
  const name = target.metadata.name;
  if (target.spec.selector.matchExpressions?.length) {
    return [
      {
        path: "spec.targetRef.name",
        message: `Deployment ${name} uses selector.matchExpressions; Vireo needs matchLabels only`,
      },
    ];
  }
  const issues: SpecIssue[] = [];
  for (const [key, value] of Object.entries(target.spec.selector.matchLabels ?? {})) {
    const renamed = `${value}${PRIMARY_SUFFIX}`;
    if (renamed.length <= NAME_LIMITS.labelValue) continue;
    issues.push({
      path: "spec.targetRef.name",
      message:
        `Deployment ${name}'s selector label ${key}=${value} cannot get ${PRIMARY_SUFFIX} for the primary ` +
        `(${renamed.length} > ${NAME_LIMITS.labelValue}, the label value limit); shorten it to ` +
        `${NAME_LIMITS.labelValue - PRIMARY_SUFFIX.length} characters`,
    });
  }
  return issues;
}

/** Every root Service port is carried to the backend Services, so port names must not clash with the split one. */
function portIssues(spec: RolloutSpec, root: Service): SpecIssue[] {
  const port = spec.service?.port;
  if (port === undefined) return [];
  const name = rolloutPortName(spec, root);
  const clash = (root.spec.ports ?? []).find((p) => p.port !== port && p.name === name);
  if (!clash) return [];
  return [
    {
      path: "spec.service.portName",
      message: `Service ${root.metadata.name} already names port ${clash.port} "${name}"; the rollout port ${port} needs another name`,
    },
  ];
}
