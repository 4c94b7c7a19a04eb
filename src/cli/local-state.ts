/**
 * The Node CLI's state between runs: one JSON file under `$XDG_STATE_HOME/atlas-responder/`
 * (default `~/.local/state/atlas-responder/`) holding the in-memory incident store's snapshot and
 * the local action budget (the last 24 h of actions: key, target, at, outcome).
 *
 * Why a file: an action journaled `sending` by a run that was killed must be found by the next run
 * and reported unknown, never repeated, and cooldowns must hold across runs. The directory is 0700
 * and the file 0600 (the journal names clusters and apps, never a secret); every save writes a
 * temporary file and renames it over the old one, so a run killed mid-save leaves the previous,
 * consistent state. A file that does not decode is an error naming the file, never a guess.
 *
 * Trade-off: this budget is the laptop's own. Runs through `--worker` share the Worker's instead.
 */
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import * as z from "zod";
import type { ActionLimiter } from "../incident/deps.ts";
import {
  createMemoryStore,
  emptyMemoryState,
  type MemoryState,
  type MemoryStore,
} from "../incident/memory-store.ts";
import { INCIDENT_STATES, PHASES } from "../incident/record.ts";
import type { IncidentStore } from "../incident/store.ts";
import { type BudgetBook, budgetSince, reserveIn } from "../response/budget.ts";
import type { PastAction } from "../response/policy.ts";

export interface BudgetAction {
  key: string;
  target: string;
  at: string;
  outcome: PastAction["outcome"];
}

export interface LocalState {
  version: 1;
  store: MemoryState;
  budget: BudgetAction[];
}

/** A state file that cannot be read or does not decode. */
export class StateFileError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`the state file ${file} ${problem}`);
    this.name = "StateFileError";
    this.file = file;
  }
}

const outcomeSchema = z.enum(["sending", "started", "failed", "unknown"]);
const incidentSchema = z.looseObject({
  id: z.string(),
  clusterKey: z.string(),
  clusterName: z.string(),
  state: z.enum(INCIDENT_STATES),
  phase: z.enum(PHASES),
  nextRunAt: z.number().nullable(),
  checksDone: z.number(),
  failures: z.number(),
  deferrals: z.number(),
});
const rowSchema = z.looseObject({
  incidentId: z.string(),
  seq: z.number(),
  at: z.string(),
  step: z.string(),
  status: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
const actionSchema = z.looseObject({
  id: z.number(),
  incidentId: z.string(),
  target: z.string(),
  kind: z.string(),
  attempt: z.number(),
  status: z.enum(["sending", "started", "failed", "unknown", "dry-run"]),
  at: z.string(),
  idempotencyKey: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
const stateSchema = z.object({
  version: z.literal(1),
  store: z.looseObject({
    version: z.literal(1),
    incidents: z.array(incidentSchema),
    journal: z.array(rowSchema),
    deliveries: z.array(z.looseObject({ key: z.string() })),
    alerts: z.array(z.looseObject({ alertId: z.string() })),
    actions: z.array(actionSchema),
    readings: z.array(z.object({ clusterKey: z.string(), at: z.string(), value: z.number() })),
    snoozes: z.array(z.object({ clusterKey: z.string(), until: z.string(), by: z.string().nullable() })),
    failovers: z.array(z.object({ clusterKey: z.string(), at: z.string() })),
  }),
  budget: z.array(z.object({ key: z.string(), target: z.string(), at: z.string(), outcome: outcomeSchema })),
});

/** Where the state file lives for this environment. */
export function stateFilePath(env: Record<string, unknown>): string {
  const xdg = typeof env.XDG_STATE_HOME === "string" && env.XDG_STATE_HOME ? env.XDG_STATE_HOME : null;
  const base =
    xdg ?? path.join(typeof env.HOME === "string" && env.HOME ? env.HOME : os.homedir(), ".local", "state");
  return path.join(base, "atlas-responder", "state.json");
}

/** Reads the state file; a missing file is an empty state, anything undecodable a `StateFileError`. */
export function loadState(file: string): LocalState {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { version: 1, store: emptyMemoryState(), budget: [] };
    }
    throw new StateFileError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StateFileError(file, "is not valid JSON: move it aside or delete it to start afresh");
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new StateFileError(
      file,
      `is not a state file this version understands${where}: move it aside or delete it to start afresh`,
    );
  }
  return parsed.data as unknown as LocalState;
}

/** Writes the state: directory 0700, a 0600 temporary file, fsync, rename. */
export function saveState(file: string, state: LocalState): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(state)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** The loaded state as a live store and budget that save themselves after every change. */
export interface LocalSession {
  readonly file: string;
  /** The incident store; every outermost transaction is saved when it commits. */
  store: IncidentStore;
  limiter: ActionLimiter;
  save(): void;
}

/** Opens the state file (creating nothing until the first save). */
export function openLocalState(file: string): LocalSession {
  const loaded = loadState(file);
  const memory: MemoryStore = createMemoryStore(loaded.store);
  let budget = loaded.budget;
  const save = () => saveState(file, { version: 1, store: memory.snapshot(), budget });
  let depth = 0;
  // Every method but `transaction` is the memory store's own; a commit is saved before it returns.
  const store: IncidentStore = {
    ...memory,
    transaction<T>(fn: () => T): T {
      depth++;
      let result: T;
      try {
        result = memory.transaction(fn);
      } finally {
        depth--;
      }
      if (depth === 0) save();
      return result;
    },
  };
  // The budget's rule is shared with the Worker's index (src/response/budget.ts); this is its book.
  const book: BudgetBook = {
    has: (key) => budget.some((a) => a.key === key),
    prune: (since) => {
      budget = budget.filter((a) => a.at >= since);
    },
    actions: () =>
      [...budget]
        .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
        .map(({ target, at, outcome }) => ({ target, at, outcome })),
    add: (key, target, at) => {
      budget = [...budget, { key, target, at, outcome: "sending" }];
    },
    release: (key) => {
      budget = budget.filter((a) => a.key !== key);
    },
  };
  const limiter: ActionLimiter = {
    async recent(now) {
      book.prune(budgetSince(now.toISOString()));
      return book.actions();
    },
    async reserve(input) {
      const answer = reserveIn(book, input);
      if (answer.ok) save();
      return answer;
    },
    async settle(key, outcome) {
      budget = budget.map((a) => (a.key === key ? { ...a, outcome } : a));
      save();
    },
  };
  return { file, store, limiter, save };
}
