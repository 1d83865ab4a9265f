// Parses the plugin's command line (kubectl-style flags) into a command, its arguments and typed options.
import { CliError } from "./errors.ts";

/** The verbs the plugin knows. */
export const COMMANDS = [
  "get",
  "list",
  "promote",
  "abort",
  "pause",
  "resume",
  "retry",
  "approve",
  "history",
  "lint",
  "dashboard",
  "help",
  "version",
] as const;
/** A verb. */
export type Command = (typeof COMMANDS)[number];

/** A parsed command line. */
export interface Args {
  command: Command;
  positional: string[];
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces: boolean;
  output?: "json" | "yaml" | "text";
  watch: boolean;
  full: boolean;
  wait: boolean;
  /** Milliseconds to wait for the controller to acknowledge a request. */
  timeoutMs: number;
  port?: number;
  color: "auto" | "always" | "never";
}

const VALUE_FLAGS: Record<string, string> = {
  "--kubeconfig": "kubeconfig",
  "--context": "context",
  "-n": "namespace",
  "--namespace": "namespace",
  "-o": "output",
  "--output": "output",
  "--timeout": "timeout",
  "--port": "port",
  "--color": "color",
};
const BOOL_FLAGS: Record<string, string> = {
  "-A": "allNamespaces",
  "--all-namespaces": "allNamespaces",
  "-w": "watch",
  "--watch": "watch",
  "--full": "full",
  "--no-wait": "noWait",
  "-h": "help",
  "--help": "help",
};

/** Parses "30s", "2m", "1500ms" or plain seconds into milliseconds. */
export function parseTimeout(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new CliError(`invalid --timeout "${text}": use e.g. 30s, 2m or 1500ms`, 2);
  const unit = m[2] ?? "s";
  return Math.round(Number(m[1]) * (unit === "ms" ? 1 : unit === "s" ? 1000 : 60_000));
}

/** Parses argv (without node and script). Throws {@link CliError} with exit code 2 on usage errors. */
export function parseArgs(argv: readonly string[]): Args {
  const values: Record<string, string> = {};
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS[flag]) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new CliError(`flag ${flag} needs a value`, 2);
      values[VALUE_FLAGS[flag]] = value;
    } else if (BOOL_FLAGS[flag] && eq < 0) {
      bools.add(BOOL_FLAGS[flag]);
    } else if (/^-n.+/.test(arg)) {
      values.namespace = arg.slice(2);
    } else if (/^-o.+/.test(arg)) {
      values.output = arg.slice(2);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new CliError(`unknown flag ${arg}; see kubectl vireo help`, 2);
    } else {
      positional.push(arg);
    }
  }
  const word = bools.has("help") ? "help" : (positional.shift() ?? "help");
  if (!(COMMANDS as readonly string[]).includes(word))
    throw new CliError(`unknown command "${word}"; see kubectl vireo help`, 2);
  const output = values.output;
  if (output !== undefined && output !== "json" && output !== "yaml" && output !== "text")
    throw new CliError(`invalid --output "${output}": use json, yaml or text`, 2);
  const color = values.color ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never")
    throw new CliError(`invalid --color "${color}": use auto, always or never`, 2);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError(`invalid --port "${values.port}"`, 2);
  }
  return {
    command: word as Command,
    positional,
    kubeconfig: values.kubeconfig,
    context: values.context,
    namespace: values.namespace,
    allNamespaces: bools.has("allNamespaces"),
    output,
    watch: bools.has("watch"),
    full: bools.has("full"),
    wait: !bools.has("noWait"),
    timeoutMs: parseTimeout(values.timeout ?? "60s"),
    port,
    color,
  };
}

/** The usage text. */
export const USAGE = `kubectl vireo: see and steer Vireo canary rollouts

Usage: kubectl vireo COMMAND [NAME] [flags]

Commands:
  get [NAME] [-w]     Show a Rollout (the only one in the namespace when NAME is omitted); -w redraws live
  list                List Rollouts (-A: in all namespaces)
  promote NAME        Advance one step (--full: skip every remaining step)
  abort NAME          Send all traffic back to the primary
  pause NAME          Hold the current step
  resume NAME         Continue a paused rollout
  approve NAME [CHECK] Approve the approval check the rollout waits for (CHECK: when several wait)
  retry NAME          Start a rolled-back or aborted revision again
  history NAME        Past revisions: promotions, rollbacks, the failing metric
  lint FILE           Validate a Rollout file offline (same rules as the API server)
  dashboard           Serve a local web UI on 127.0.0.1 with your own credentials

Flags:
  --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME      kubeconfig context
  -n, --namespace NS  namespace (default: the context's)
  -A, --all-namespaces
  -o, --output json|yaml|text
  -w, --watch         live view (get)
  --timeout 60s       how long steering commands wait for the controller
  --no-wait           write the request and return
  --port N            dashboard port (default: random)
  --color auto|always|never
`;
