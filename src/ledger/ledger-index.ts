/**
 * The list of projects that have a ledger, and the global action budget: one object for the whole
 * Worker, touched only when a project first appears and when the responder is about to act.
 *
 * Schema: `projects (group_id TEXT PK, first_seen TEXT)`,
 *         `actions (key TEXT PK, target TEXT, at TEXT, outcome TEXT)` — the last 24 h of actions.
 */
import { DurableObject } from "cloudflare:workers";
import type { ActionLimiter } from "../incident/deps.ts";
import { budgetCheck, type PastAction } from "../response/policy.ts";

export class LedgerIndex extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS projects (group_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS actions (key TEXT PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL);
    `);
  }

  /** Adds a project; repeating it is harmless. */
  register(groupId: string, at: string): void {
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO projects (group_id, first_seen) VALUES (?, ?)",
      groupId.toLowerCase(),
      at,
    );
  }

  /** Every known project id. */
  projects(): string[] {
    return this.ctx.storage.sql
      .exec("SELECT group_id FROM projects ORDER BY group_id")
      .toArray()
      .map((r) => String(r.group_id));
  }

  /** Actions of the 24 hours before `now`, oldest first. */
  recentActions(nowIso: string): PastAction[] {
    const since = new Date(Date.parse(nowIso) - 24 * 3600_000).toISOString();
    this.ctx.storage.sql.exec("DELETE FROM actions WHERE at < ?", since);
    return this.ctx.storage.sql
      .exec("SELECT target, at, outcome FROM actions ORDER BY at")
      .toArray()
      .map((r) => ({
        target: String(r.target),
        at: String(r.at),
        outcome: r.outcome as PastAction["outcome"],
      }));
  }

  /** Re-checks the budget and records the action, atomically; a repeated key succeeds without counting twice. */
  reserve(input: Parameters<ActionLimiter["reserve"]>[0]): Awaited<ReturnType<ActionLimiter["reserve"]>> {
    return this.ctx.storage.transactionSync(() => {
      const existing = this.ctx.storage.sql.exec("SELECT 1 FROM actions WHERE key = ?", input.key).toArray();
      if (existing.length > 0) return { ok: true as const };
      const blocked = budgetCheck(input.target, this.recentActions(input.at), input, new Date(input.at));
      if (blocked) return { ok: false as const, ...blocked };
      this.ctx.storage.sql.exec(
        "INSERT INTO actions (key, target, at, outcome) VALUES (?, ?, ?, 'sending')",
        input.key,
        input.target,
        input.at,
      );
      return { ok: true as const };
    });
  }

  /** Records how a reserved action ended. */
  settle(key: string, outcome: PastAction["outcome"]): void {
    this.ctx.storage.sql.exec("UPDATE actions SET outcome = ? WHERE key = ?", outcome, key);
  }
}
