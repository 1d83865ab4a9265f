// The names Vireo derives from a Rollout's target and root Service, without the schema (the CLI loads no zod).

/** The part of a Rollout spec the names come from (structural: the schema module imports this one). */
interface Named {
  targetRef: { name: string };
  service?: { name?: string | undefined } | undefined;
  strategy: { blueGreen?: { previewService?: string | undefined } | undefined };
}

/**
 * Suffixes of the names Vireo derives from the target and the root Service: `<target>-primary` (Deployment),
 * `<service>-primary`, `<service>-canary` and, for blue/green, `<service>-preview` (Services).
 */
export const NAME_SUFFIXES = { primary: "-primary", canary: "-canary", preview: "-preview" } as const;

/** The root Service's name: `service.name`, else the target's. */
export const rootServiceName = (spec: Named): string => spec.service?.name ?? spec.targetRef.name;

/** Blue/green's preview Service: `strategy.blueGreen.previewService`, else `<service>-preview`. */
export const previewServiceName = (spec: Named): string =>
  spec.strategy.blueGreen?.previewService ?? `${rootServiceName(spec)}${NAME_SUFFIXES.preview}`;
