// Redraws a block of lines in place on a terminal; appends changed frames when the output is piped.
import { visibleLength } from "./style.ts";

/** A live area at the bottom of the output. */
export class LiveScreen {
  private readonly out: NodeJS.WritableStream & { columns?: number };
  private readonly tty: boolean;
  private lines = 0;
  private last = "";

  constructor(out: NodeJS.WritableStream & { columns?: number }, tty: boolean) {
    this.out = out;
    this.tty = tty;
  }

  /** Shows `frame`. On a TTY it replaces the previous frame; otherwise prints it once per distinct content. */
  draw(frame: string[]): void {
    if (!this.tty) {
      const text = frame.join("\n");
      if (text === this.last) return;
      this.out.write(`${this.last ? "\n" : ""}${text}\n`);
      this.last = text;
      return;
    }
    const width = this.out.columns ?? 120;
    // Long lines would wrap and break the cursor arithmetic, so cut them to the terminal width.
    const fitted = frame.map((l) => (visibleLength(l) > width ? cut(l, width) : l));
    const up = this.lines > 0 ? `\x1b[${this.lines}F` : "";
    this.out.write(`${up}\x1b[J${fitted.join("\n")}\n`);
    this.lines = fitted.length;
  }

  /** Leaves the last frame on screen. */
  end(): void {
    this.lines = 0;
  }
}

/** Cuts a line to `width` visible characters, keeping ANSI escapes and resetting attributes at the end. */
function cut(line: string, width: number): string {
  let out = "";
  let shown = 0;
  for (let i = 0; i < line.length && shown < width - 1; ) {
    if (line[i] === "\x1b") {
      const end = line.indexOf("m", i);
      out += line.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    out += line[i];
    shown++;
    i++;
  }
  return `${out}…\x1b[0m`;
}
