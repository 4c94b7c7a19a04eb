/**
 * Keeps NOTIFY_WEBHOOK_URL told: one POST per change of incident state, and one per watch warning
 * that belongs to no incident. The store queues a row in the same transaction that changes the
 * state (src/ledger/store.ts, `notify_outbox`), so a change is never lost and never queued twice;
 * the ledger's alarm sends the queue, oldest first, each incident's rows in order.
 *
 * The same at-most-once rule as Slack's posts (src/slack/sync.ts): a post that certainly did not
 * land stays queued and is retried later (after `Retry-After` on a 429, else soon once, then
 * calmly), so no change is lost; a post whose outcome is unknown is journaled and dropped — never
 * sent again for that state — so no receiver sees a change twice. A post refused
 * `MAX_ATTEMPTS` times is dropped with a journal entry rather than retried forever.
 */
import { describeError, type Logger } from "../observability/log.ts";
import type { NotifyClient, NotifyPayload } from "./client.ts";

/** One queued notification, as the store keeps it. */
export interface NotifyDue {
  seq: number;
  /** Null for a notice that belongs to no incident (the watch's time-to-limit warning). */
  incidentId: string | null;
  clusterName: string;
  state: string;
  previousState: string | null;
  at: string;
  /** The notice's own text; null for a state change (the summary is built when it is sent). */
  summary: string | null;
  attempts: number;
  error: string | null;
}

/** What the sync needs from the store. */
export interface NotifySyncStore {
  transaction<T>(fn: () => T): T;
  /** The oldest due row whose incident has no earlier row still queued, if any. */
  notifyNext(nowMs: number): NotifyDue | null;
  notifyDone(seq: number): void;
  notifyRetry(seq: number, retryAt: number, error: string): void;
  /** Journals a delivery problem on the incident (a notify entry is not a state change). */
  notifyJournal(
    incidentId: string,
    at: string,
    status: "failed" | "unknown",
    detail: { error: string; detail?: string },
  ): void;
}

const FIRST_RETRY_MS = 5_000;
const RETRY_MS = 60_000;
export const MAX_ATTEMPTS = 30;
/** At most this many posts per run: the rest wait for the next alarm. */
const MAX_POSTS_PER_RUN = 20;

export interface NotifySyncContext {
  groupId: string;
  store: NotifySyncStore;
  client: NotifyClient;
  /** PUBLIC_URL, when set: the body links to the incident's dashboard page. */
  publicUrl?: string;
  /** The incident's latest percentage of the limit, for the summary. */
  percentOf(incidentId: string): number | null;
  log: Logger;
  now(): Date;
}

/** The body for one queued row. */
export function payloadOf(
  ctx: Pick<NotifySyncContext, "groupId" | "publicUrl" | "percentOf">,
  due: NotifyDue,
): NotifyPayload {
  const url =
    ctx.publicUrl && due.incidentId
      ? `${ctx.publicUrl}/ui/incidents/${encodeURIComponent(due.incidentId)}`
      : null;
  let summary = due.summary;
  if (summary === null) {
    const percent = due.incidentId ? ctx.percentOf(due.incidentId) : null;
    const change = due.previousState ? `${due.previousState} → ${due.state}` : due.state;
    summary = `${due.clusterName}: ${change}${percent === null ? "" : ` (${percent}% of the connection limit)`}`;
  }
  return {
    incident: due.incidentId,
    cluster: { groupId: ctx.groupId, name: due.clusterName },
    state: due.state,
    previousState: due.previousState,
    at: due.at,
    summary,
    url,
  };
}

/** Sends every due notification, oldest first. */
export async function syncNotify(ctx: NotifySyncContext): Promise<number> {
  let posts = 0;
  while (posts < MAX_POSTS_PER_RUN) {
    const due = ctx.store.notifyNext(ctx.now().getTime());
    if (!due) break;
    posts++;
    try {
      await sendOne(ctx, due);
    } catch (error) {
      // A bug in one row must not stall the others, nor the pipeline.
      ctx.log.log("error", "notify.sync-failed", { incident: due.incidentId, ...describeError(error) });
      ctx.store.transaction(() =>
        ctx.store.notifyRetry(due.seq, ctx.now().getTime() + RETRY_MS, due.error ?? "internal error"),
      );
    }
  }
  return posts;
}

async function sendOne(ctx: NotifySyncContext, due: NotifyDue): Promise<void> {
  const outcome = await ctx.client.send(payloadOf(ctx, due), `${ctx.groupId.toLowerCase()}:${due.seq}`);
  const at = ctx.now();
  const journal = (status: "failed" | "unknown", error: string, detail?: string) => {
    if (due.incidentId)
      ctx.store.notifyJournal(due.incidentId, at.toISOString(), status, {
        error,
        ...(detail ? { detail } : {}),
      });
  };
  switch (outcome.kind) {
    case "delivered":
      ctx.store.transaction(() => ctx.store.notifyDone(due.seq));
      return;
    case "unknown":
      ctx.log.log("warn", "notify.unknown", { incident: due.incidentId, error: outcome.error });
      ctx.store.transaction(() => {
        journal(
          "unknown",
          outcome.error,
          `the ${due.state} notification may have been delivered; it will not be sent again`,
        );
        ctx.store.notifyDone(due.seq);
      });
      return;
    case "failed": {
      ctx.log.log("warn", "notify.failed", { incident: due.incidentId, error: outcome.error });
      ctx.store.transaction(() => {
        if (due.attempts + 1 >= MAX_ATTEMPTS) {
          journal(
            "failed",
            outcome.error,
            `the ${due.state} notification was refused ${MAX_ATTEMPTS} times; given up`,
          );
          ctx.store.notifyDone(due.seq);
          return;
        }
        // Each kind of failure is journaled once per run of failures.
        if (due.error !== outcome.error) journal("failed", outcome.error);
        const backoff = due.error === null ? FIRST_RETRY_MS : RETRY_MS;
        const wait = outcome.retryAfterSeconds !== undefined ? outcome.retryAfterSeconds * 1000 : backoff;
        ctx.store.notifyRetry(due.seq, at.getTime() + wait, outcome.error);
      });
      return;
    }
  }
}
