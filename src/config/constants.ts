/**
 * Every magic number in one place, each with the reason it has that value.
 * Values a team may want to tune live in `POLICY` instead (see ./schema.ts).
 */

/** Atlas alert bodies are a few KiB; 64 KiB leaves room for long `humanReadable` text and refuses abuse. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

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
