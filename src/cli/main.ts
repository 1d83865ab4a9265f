// Entry point of kubectl-vireo: parses flags and loads only the command it runs (start-up time matters).
import { displayText } from "../api/display-text.ts";
import { type Args, parseArgs, USAGE } from "./args.ts";
import { CliError } from "./errors.ts";

async function run(args: Args): Promise<number> {
  switch (args.command) {
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "version":
      process.stdout.write("kubectl-vireo 0.1.0\n");
      return 0;
    case "get":
      return (await import("./commands/get.ts")).get(args);
    case "list":
      return (await import("./commands/get.ts")).list(args);
    case "promote":
    case "abort":
    case "pause":
    case "resume":
    case "retry":
    case "approve":
      return (await import("./commands/steer.ts")).steer(args, args.command);
    case "history":
      return (await import("./commands/history.ts")).history(args);
    case "lint":
      return (await import("./commands/lint.ts")).lint(args);
    case "dashboard":
      return (await import("./dashboard/command.ts")).dashboard(args);
  }
}

try {
  process.exitCode = await run(parseArgs(process.argv.slice(2)));
} catch (err) {
  // Error text may quote the API server, which may quote anyone: nothing of it may drive the terminal.
  if (err instanceof CliError) {
    process.stderr.write(`error: ${displayText(err.message)}\n`);
    process.exitCode = err.exitCode;
  } else {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`error: ${text.split("\n").map(displayText).join("\n")}\n`);
    process.exitCode = 1;
  }
}
