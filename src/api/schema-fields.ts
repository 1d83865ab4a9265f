// Field builders shared by the Rollout's schema modules: DNS names, durations, percentages and CEL rules, each
// with the pattern the CRD and the controller both enforce.
import * as z from "zod";
import { DURATION_PATTERN } from "./duration.ts";

/** Kubernetes object names: DNS-1123 subdomain. Also keeps hostile names out of PromQL and object names. */
export const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** DNS-1123 label: Service and namespace names. */
export const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/** One `x-kubernetes-validations` rule. */
export const cel = (rule: string, message: string, fieldPath?: string, reason?: string) => ({
  rule,
  message,
  ...(fieldPath ? { fieldPath } : {}),
  ...(reason ? { reason } : {}),
});

/** A DNS-1123 subdomain of at most 253 characters. */
export const objectName = (what: string) =>
  z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN), `must be a lowercase DNS name`).describe(what);
/** A DNS-1123 label of at most 63 characters. */
export const labelName = (what: string) =>
  z.string().min(1).max(63).regex(new RegExp(DNS_LABEL), `must be a lowercase DNS label`).describe(what);
/** A Go-style duration ("30s", "5m"). */
export const duration = (what: string) =>
  z
    .string()
    .max(32)
    .regex(new RegExp(DURATION_PATTERN), "must be a duration such as 30s, 5m or 1h30m")
    .describe(what);
/** An integer percentage. */
export const percent = (what: string) => z.number().int().min(0).max(100).describe(what);
