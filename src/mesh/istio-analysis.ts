// istiod's verdict on an Istio object Vireo wrote, from the analysis messages it puts in the object's status.
import type { MeshObject } from "./objects.ts";

/**
 * One entry of `status.validationMessages`, written by istiod when it runs Istio's analyzers in-process
 * (`PILOT_ENABLE_ANALYSIS=true`, Helm value `global.istiod.enableAnalysis`). Only the code and level are stored.
 */
interface AnalysisMessage {
  type?: { code?: string; name?: string };
  level?: string;
  documentationUrl?: string;
}

/**
 * What the analyzer codes a Vireo VirtualService can draw mean for its split (istio.io/latest/docs/reference/
 * config/analysis): each is a route istiod ignores in part or whole.
 */
const MEANING: Readonly<Record<string, string>> = {
  IST0101: "it references a host, host:port or Gateway that does not exist, so istiod drops that part",
  IST0109:
    "another VirtualService for the mesh defines the same host; istiod keeps only the oldest one's routes for it",
  IST0112: "a destination Service exposes several ports and the destination names none",
  IST0132: "a host is not served by a Gateway the VirtualService binds to, so that Gateway does not route it",
};

/** Levels that mean the object does not do what Vireo wrote it for (INFO is advice). */
const BLOCKING = new Set(["ERROR", "WARNING"]);

/**
 * Why istiod does not apply `obj` as written, from its analysis messages; undefined when there are none at
 * ERROR or WARNING level (or istiod does not run analysis). Messages stay until istiod's next analysis run,
 * whichever generation they were computed for, so a fix clears them within its analysis interval.
 */
export function analysisVerdict(obj: MeshObject): string | undefined {
  const status = obj.status as { validationMessages?: unknown; observedGeneration?: unknown } | undefined;
  const messages = Array.isArray(status?.validationMessages)
    ? (status.validationMessages as AnalysisMessage[])
    : [];
  const blocking = messages.filter((m) => BLOCKING.has(String(m?.level ?? "")));
  if (blocking.length === 0) return undefined;
  const described = blocking.map((m) => {
    const code = m.type?.code ?? "unknown code";
    const meaning = MEANING[code];
    return `${code} (${m.level})${meaning ? `: ${meaning}` : ""}${m.documentationUrl ? ` — ${m.documentationUrl}` : ""}`;
  });
  const generation =
    status?.observedGeneration !== undefined ? ` of generation ${status.observedGeneration}` : "";
  return `istiod's analysis${generation} of ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} reports ${described.join("; ")}`;
}
