/**
 * Every magic number in one place, each with the reason it has that value.
 * Values a team may want to tune live in `POLICY` instead (see src/config/schema.ts).
 */

/** Atlas alert bodies are a few KiB; 64 KiB leaves room for long `humanReadable` text and refuses abuse. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/** How far ahead of the responder's clock an alert's `updated` may be before it is capped (intake.ts). */
export const MAX_ALERT_CLOCK_SKEW_MS = 5 * 60_000;

/** Default budget for one outbound HTTP call (DESIGN §5). */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

/** Reads are retried at most this many times on network errors, 408, 429 and 5xx. */
export const MAX_READ_RETRIES = 2;

/** Base delay for jittered exponential backoff between retries. */
export const RETRY_BASE_DELAY_MS = 250;

/** Never wait longer than this for a `Retry-After`; beyond it the run fails and the alarm retries later. */
export const MAX_RETRY_AFTER_MS = 30_000;

/** Server selection for the responder's own short-lived MongoDB client: a full cluster must fail fast. */
export const MONGO_SERVER_SELECTION_TIMEOUT_MS = 5_000;

/** The responder's driver `appName`, so it never counts itself among the culprits. */
export const RESPONDER_APP_NAME = "atlas-responder";

/** The admin token protects every operator route; shorter tokens are guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** `GET /incidents` page size: default and ceiling. */
export const DEFAULT_INCIDENT_PAGE = 50;
export const MAX_INCIDENT_PAGE = 200;

/** Service-account tokens live one hour; refresh a minute early so a request never carries an expired one. */
export const OAUTH_REFRESH_MARGIN_MS = 60_000;

/** Atlas's `itemsPerPage` ceiling (spec): one page of processes covers nearly every project. */
export const ATLAS_PROCESSES_PAGE_SIZE = 500;

/** Stop paging processes here: 10 000 processes is beyond any real project, and a paging bug must end. */
export const ATLAS_MAX_PROCESS_PAGES = 20;

/** Measure at most this many nodes per stats read: Monitoring calls share a 100/min per-project budget. */
export const ATLAS_MAX_MEASURED_PROCESSES = 12;

/** One-minute connection points: the finest Atlas keeps, so a leak shows within minutes. */
export const ATLAS_MEASUREMENT_GRANULARITY = "PT1M";

/** One hour of points: enough for a trend and a time-to-limit, still a single call per node. */
export const ATLAS_MEASUREMENT_PERIOD = "PT1H";

/** Node side only: a TCP/TLS connect to a healthy API takes well under a second; fail fast, keep budget for a retry. */
export const NODE_HTTP_CONNECT_TIMEOUT_MS = 5_000;

/** Node side only: reuse sockets across the CLI's polling interval (seconds), then let them go. */
export const NODE_HTTP_KEEP_ALIVE_MS = 30_000;

/** Redeploy outcome details go to the journal and Slack: one readable line, not a platform's error page. */
export const MAX_OUTCOME_DETAIL_CHARS = 300;

/** Read at most this much of a redeploy answer: the job id or error code is at the top, error pages can be huge. */
export const MAX_REDEPLOY_ANSWER_BYTES = 64 * 1024;

/** Signed redeploy webhooks older or newer than this are replays (receivers check; same window as Slack's). */
export const WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 300;

/** One Fly redeploy restarts at most this many machines, one after another, so a run stays within its budget. */
export const FLY_MAX_MACHINE_RESTARTS = 20;

const DAY_MS = 24 * 3600_000;

/**
 * How long the ledger keeps what it records, enforced by its alarm (`LedgerStore.prune`). Every
 * table is bounded by time and, where a storm of distinct alert ids could grow it, by count.
 */
export const RETENTION = {
  /** Closed incidents, with their journal, actions, deliveries and alert states: a quarter's review. */
  closedIncidentMs: 90 * DAY_MS,
  /**
   * Deliveries and alert states that no incident keeps (ignored alerts): their only use is as
   * dedupe keys, and Atlas re-sends an open alert at most at its notification interval (hours).
   */
  unattachedMs: 7 * DAY_MS,
  /** Failovers older than this are dropped, except each cluster's latest (policy asks "ever?"). */
  failoverMs: 30 * DAY_MS,
  /** A live incident keeps its newest deliveries, closed alert states and intake lines up to these. */
  maxDeliveriesPerIncident: 1000,
  maxClosedAlertsPerIncident: 1000,
  maxOpenAlertsPerIncident: 5000,
  maxIntakeLinesPerIncident: 500,
  /** Rows deleted per table per run, so one alarm run stays short; the rest goes in the next. */
  batchRows: 2000,
  /** How often a ledger that holds anything prunes; sooner while a run left work behind. */
  everyMs: DAY_MS,
  againMs: 60_000,
} as const;
