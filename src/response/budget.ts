/**
 * The global action budget's one rule for taking an action from it, whatever holds the record
 * (the Worker's `LedgerIndex` in SQLite, the CLI's state file): the cooldown and hourly cap are
 * re-checked against the last 24 hours and, if they allow it, the action is recorded as `sending`.
 * Pure over a small book.
 *
 * A key taken before is taken again at its new time, never counted twice: the core asks again
 * only when the earlier reservation sent nothing (its answer was lost, or the incident moved on),
 * since a call that went out moves it to the next attempt's key. Answering a repeat `ok` without
 * re-checking would let a reservation made long ago fire now, past a cooldown or cap that filled
 * meanwhile.
 */
import { budgetCheck, type PastAction } from "./policy.ts";

/** How long the budget remembers actions: more than any cooldown or the hourly cap needs. */
export const BUDGET_KEPT_MS = 24 * 3600_000;

export interface BudgetRequest {
  key: string;
  target: string;
  at: string;
  cooldownMinutes: number;
  maxActionsPerHour: number;
}

export type BudgetAnswer = { ok: true } | { ok: false; reason: "cooldown" | "hourly-cap"; until: string };

/** Where the budget's actions are kept. */
export interface BudgetBook {
  has(key: string): boolean;
  /** Forgets actions older than `since` (ISO-8601). */
  prune(since: string): void;
  /** Every remembered action, oldest first. */
  actions(): PastAction[];
  add(key: string, target: string, at: string): void;
  /** Forgets one action, if it is remembered. */
  release(key: string): void;
}

/** The start of the window the budget remembers, for a moment `at`. */
export const budgetSince = (at: string): string => new Date(Date.parse(at) - BUDGET_KEPT_MS).toISOString();

/** Takes one action from the budget, or says why not. Run atomically with the book's writes. */
export function reserveIn(book: BudgetBook, request: BudgetRequest): BudgetAnswer {
  if (book.has(request.key)) book.release(request.key);
  book.prune(budgetSince(request.at));
  const blocked = budgetCheck(request.target, book.actions(), request, new Date(request.at));
  if (blocked) return { ok: false, ...blocked };
  book.add(request.key, request.target, request.at);
  return { ok: true };
}
