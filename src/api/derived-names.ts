// The names Vireo derives from a Rollout's target and root Service, without the schema (the CLI loads no zod).
import type { RolloutSpec } from "./rollout-schema.ts";

/**
 * Suffixes of the names Vireo derives from the target and the root Service: `<target>-primary` (Deployment),
 * `<service>-primary`, `<service>-canary` and, for blue/green, `<service>-preview` (Services).
 */
export const NAME_SUFFIXES = { primary: "-primary", canary: "-canary", preview: "-preview" } as const;

/** The root Service's name: `service.name`, else the target's. */
export const rootServiceName = (spec: RolloutSpec): string => spec.service.name ?? spec.targetRef.name;

/** Blue/green's preview Service: `strategy.blueGreen.previewService`, else `<service>-preview`. */
export const previewServiceName = (spec: RolloutSpec): string =>
  spec.strategy.blueGreen?.previewService ?? `${rootServiceName(spec)}${NAME_SUFFIXES.preview}`;
