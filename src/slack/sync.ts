/**
 * Keeps one living Slack message per incident. Any journal line makes the message due; the alarm
 * renders the incident from its journal and posts it once (bot mode, keeping the `ts`) or updates
 * it in place. A failed delivery stays due and is retried later (after Slack's `Retry-After` when it
 * gives one), so no change is lost; a post whose outcome is unknown is never sent again for that
 * incident, so no message is duplicated. Incoming-webhook mode can only post, so it posts when the
 * incident's state changes.
 */
import type { ResponderMode } from "../config/schema.ts";
import type { IncidentDetail } from "../incident/view.ts";
import { describeError, type Logger } from "../observability/log.ts";
import type { SlackClient } from "./client.ts";
import { renderIncidentMessage } from "./render.ts";

/** The Slack message's bookkeeping for one incident, as the store keeps it. */
export interface SlackState {
  id: string;
  ts: string | null;
  channel: string | null;
  syncedSeq: number;
  postedState: string | null;
  error: string | null;
  state: string;
  /** The incident's latest journal seq. */
  seq: number;
}

/** One sync of the journal up to `seq`: where the message is, what it shows, and when to try again. */
export interface SlackSync {
  seq: number;
  ts?: string | null;
  channel?: string | null;
  state: string;
  retryAt: number | null;
  error: string | null;
}

/** What the sync needs from the store that holds the incidents. */
export interface SlackSyncStore {
  transaction<T>(fn: () => T): T;
  slackDue(nowMs: number): SlackState[];
  slackSynced(id: string, input: SlackSync): void;
  /** Journals a delivery problem on the incident (a Slack entry does not make the message due again). */
  slackJournal(
    id: string,
    at: string,
    status: "failed" | "unknown",
    detail: { error: string; detail?: string },
  ): void;
}

/** Retry a failed Slack delivery after this long when Slack gives no `Retry-After`: soon once, then calmly. */
const SLACK_FIRST_RETRY_MS = 5_000;
const SLACK_RETRY_MS = 60_000;
/** A post that may have landed: keep it from being sent twice. */
const LOST = "lost";

export interface SlackSyncContext {
  groupId: string;
  store: SlackSyncStore;
  slack: SlackClient;
  /** Buttons only when clicks can be verified (a signing secret is configured). */
  approvalButtons: boolean;
  /** PUBLIC_URL, when set: the message links to the incident's dashboard page. */
  publicUrl?: string;
  modeOf(incident: IncidentDetail): ResponderMode;
  detail(id: string): IncidentDetail | null;
  log: Logger;
  now(): Date;
}

/** Brings every due incident's Slack message up to date. */
export async function syncSlack(ctx: SlackSyncContext): Promise<void> {
  for (const due of ctx.store.slackDue(ctx.now().getTime())) {
    try {
      await syncOne(ctx, due);
    } catch (error) {
      // A bug in one message must not stall the others, nor the pipeline that runs after.
      ctx.log.log("error", "slack.sync-failed", { incident: due.id, ...describeError(error) });
      ctx.store.transaction(() =>
        ctx.store.slackSynced(due.id, {
          seq: due.syncedSeq,
          state: due.postedState ?? "",
          retryAt: ctx.now().getTime() + SLACK_RETRY_MS,
          error: due.error,
        }),
      );
    }
  }
}

async function syncOne(ctx: SlackSyncContext, due: SlackState): Promise<void> {
  const detail = ctx.detail(due.id);
  if (!detail) return;
  const done = (ts: string | null = null, channel: string | null = null) =>
    ctx.store.transaction(() =>
      ctx.store.slackSynced(due.id, {
        seq: due.seq,
        ts,
        channel,
        state: detail.state,
        retryAt: null,
        error: null,
      }),
    );

  if (due.ts === LOST) return done();
  if (ctx.slack.mode === "webhook" && due.postedState === detail.state) return done();

  const message = renderIncidentMessage({
    incident: detail,
    mode: ctx.modeOf(detail),
    links: {
      atlasCluster: `https://cloud.mongodb.com/v2/${ctx.groupId}#/clusters/detail/${encodeURIComponent(detail.cluster.name)}`,
      dashboard: ctx.publicUrl ? `${ctx.publicUrl}/ui/incidents/${encodeURIComponent(detail.id)}` : undefined,
    },
    approvalButtons: ctx.approvalButtons,
    now: ctx.now(),
  });
  const previous = due.ts && due.channel ? { ts: due.ts, channel: due.channel } : undefined;
  const outcome = await ctx.slack.deliver(message, previous);
  const at = ctx.now();

  switch (outcome.kind) {
    case "delivered":
      return done(outcome.ts ?? null, outcome.channel ?? null);
    case "unknown": {
      ctx.log.log("warn", "slack.unknown", { incident: due.id, error: outcome.error });
      if (previous) return retry(ctx, due, at, outcome.error, undefined);
      // The post may have landed: never post this incident again rather than risk a duplicate.
      ctx.store.transaction(() => {
        ctx.store.slackJournal(due.id, at.toISOString(), "unknown", {
          error: outcome.error,
          detail: "the message may have been posted; it will not be posted again",
        });
        ctx.store.slackSynced(due.id, {
          seq: due.seq,
          ts: LOST,
          channel: null,
          state: detail.state,
          retryAt: null,
          error: null,
        });
      });
      return;
    }
    case "failed":
      ctx.log.log("warn", "slack.failed", { incident: due.id, error: outcome.error });
      return retry(ctx, due, at, outcome.error, outcome.retryAfterSeconds);
  }
}

function retry(
  ctx: SlackSyncContext,
  due: SlackState,
  at: Date,
  error: string,
  retryAfterSeconds: number | undefined,
) {
  const backoff = due.error === null ? SLACK_FIRST_RETRY_MS : SLACK_RETRY_MS;
  const retryAt = at.getTime() + (retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : backoff);
  ctx.store.transaction(() => {
    // Journal each kind of failure once per run of failures, by Slack's own error name.
    if (due.error !== error) ctx.store.slackJournal(due.id, at.toISOString(), "failed", { error });
    ctx.store.slackSynced(due.id, { seq: due.syncedSeq, state: due.postedState ?? "", retryAt, error });
  });
}
