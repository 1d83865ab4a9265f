import type { Args } from "../args.ts";
export async function dashboard(_args: Args): Promise<number> {
  return 0;
}
