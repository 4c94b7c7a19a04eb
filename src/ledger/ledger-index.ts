/**
 * The list of projects that have a ledger, and the global action budget: one object for the whole
 * Worker, touched only when a project first appears and when the responder is about to act.
 *
 * Schema: `projects (group_id TEXT PK, first_seen TEXT)`,
 *         `actions (key TEXT PK, target TEXT, at TEXT, outcome TEXT)` — the last 24 h of actions.
 */
import { DurableObject } from "cloudflare:workers";
import type { ActionLimiter } from "../incident/deps.ts";
import { type BudgetAnswer, budgetSince, reserveIn } from "../response/budget.ts";
import type { PastAction } from "../response/policy.ts";
import { IndexStore } from "./store.ts";

export class LedgerIndex extends DurableObject {
  private readonly store: IndexStore;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.store = new IndexStore(ctx.storage.sql);
    this.store.migrate();
  }

  /** Adds a project; repeating it is harmless. */
  register(groupId: string, at: string): void {
    this.store.register(groupId, at);
  }

  /** Every known project id. */
  projects(): string[] {
    return this.store.projects();
  }

  /** Actions of the 24 hours before `now`, oldest first. */
  recentActions(nowIso: string): PastAction[] {
    this.store.prune(budgetSince(nowIso));
    return this.store.actions();
  }

  /** Re-checks the budget and records the action, atomically; a repeated key succeeds without counting twice. */
  reserve(input: Parameters<ActionLimiter["reserve"]>[0]): BudgetAnswer {
    return this.ctx.storage.transactionSync(() => reserveIn(this.store, input));
  }

  /** Records how a reserved action ended. */
  settle(key: string, outcome: PastAction["outcome"]): void {
    this.store.settle(key, outcome);
  }
}
