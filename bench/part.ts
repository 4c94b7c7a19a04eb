/** One part of the bench: a name for `--only`, and a run that answers its rows. */
import type { Row } from "./results.ts";

export interface PartContext {
  /** A progress line on stderr. */
  say(line: string): void;
}

export interface Part {
  name: string;
  run(ctx: PartContext): Promise<Row[]>;
}
