/**
 * `LoginGuard`: failed dashboard logins per client address, so guessing ADMIN_TOKEN backs off.
 * One Durable Object per address (`CF-Connecting-IP`, or one shared name when it is absent), so the
 * count survives isolates and is the same on every edge location.
 *
 * Rule: failures are counted within a 15-minute window; from the 5th on, the address is locked for
 * 1 min, doubling with each further failure up to 1 h. While locked, every login answers 429 with
 * Retry-After, whether or not the token is right. A successful login forgets the address. An alarm
 * deletes the record once nothing is left to remember.
 *
 * Storage: the DO's key-value API, one key (`state`).
 */
import { DurableObject } from "cloudflare:workers";

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const LOGIN_FREE_FAILURES = 5;
const FIRST_LOCK_MS = 60_000;
const MAX_LOCK_MS = 3600_000;

interface GuardState {
  /** Failures within the window, oldest first (epoch ms). */
  failures: number[];
  /** Epoch ms until which logins are refused; 0 when not locked. */
  lockedUntil: number;
}

export type GuardVerdict = { ok: true } | { ok: false; retryAfterSeconds: number };

/** The lock after `count` failures within the window, or 0. */
export function lockFor(count: number): number {
  if (count < LOGIN_FREE_FAILURES) return 0;
  return Math.min(MAX_LOCK_MS, FIRST_LOCK_MS * 2 ** (count - LOGIN_FREE_FAILURES));
}

const verdict = (state: GuardState, now: number): GuardVerdict =>
  state.lockedUntil > now
    ? { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((state.lockedUntil - now) / 1000)) }
    : { ok: true };

export class LoginGuard extends DurableObject {
  private read(now: number): GuardState {
    const stored = this.ctx.storage.kv.get<GuardState>("state");
    const failures = (stored?.failures ?? []).filter((t) => t > now - LOGIN_WINDOW_MS);
    return { failures, lockedUntil: stored?.lockedUntil ?? 0 };
  }

  /** Whether a login may be tried now. */
  check(now: number): GuardVerdict {
    return verdict(this.read(now), now);
  }

  /** Counts a failure; answers whether the next try must wait. */
  async fail(now: number): Promise<GuardVerdict> {
    const state = this.read(now);
    state.failures.push(now);
    const lock = lockFor(state.failures.length);
    if (lock > 0) state.lockedUntil = Math.max(state.lockedUntil, now + lock);
    this.ctx.storage.kv.put("state", state);
    await this.ctx.storage.setAlarm(Math.max(state.lockedUntil, now + LOGIN_WINDOW_MS) + 1000);
    return verdict(state, now);
  }

  /** A successful login: the address starts afresh. */
  async succeed(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const state = this.read(now);
    if (state.failures.length === 0 && state.lockedUntil <= now) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(Math.max(state.lockedUntil, now + LOGIN_WINDOW_MS) + 1000);
  }
}
