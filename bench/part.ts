/** One part of the bench: a name for `--only`, and a run that answers its rows. */
import type { Row } from "./results.ts";

export interface PartContext {
  /** A progress line on stderr. */
  say(line: string): void;
  /** `--before REV`: a commit whose Worker the intake part measures too, for a before/after. */
  before: string | null;
}

export interface Part {
  name: string;
  run(ctx: PartContext): Promise<Row[]>;
}
