/**
 * The incident core's dependencies inside the Worker: the runtime's `fetch`, the global action
 * budget held by `LedgerIndex`, a console logger, and the Slack client the ledger brings messages
 * up to date with, and the NOTIFY_WEBHOOK_URL client. The rest is the wiring every door shares (src/wiring/core-deps.ts).
 */
import type { Config } from "../config/schema.ts";
import type { ActionLimiter, CoreDeps } from "../incident/deps.ts";
import { createNotifyClient, type NotifyClient } from "../notify/client.ts";
import { createConsoleLogger } from "../observability/log.ts";
import { createSlackClient, type SlackClient } from "../slack/client.ts";
import { createCoreDeps } from "../wiring/core-deps.ts";

interface IndexStub {
  recentActions(nowIso: string): Promise<Awaited<ReturnType<ActionLimiter["recent"]>>>;
  reserve(input: Parameters<ActionLimiter["reserve"]>[0]): ReturnType<ActionLimiter["reserve"]>;
  settle(key: string, outcome: Parameters<ActionLimiter["settle"]>[1]): Promise<void>;
}

/** The Worker's core dependencies for `config`, and its Slack client (null when Slack is not configured). */
export function createWorkerDeps(
  config: Config,
  index: IndexStub,
): { core: CoreDeps; slack: SlackClient | null; notify: NotifyClient | null } {
  const fetchImpl = (input: Request | string | URL, init?: RequestInit) => fetch(input, init);
  const core = createCoreDeps({
    config,
    fetch: fetchImpl,
    log: createConsoleLogger(config.secrets),
    limiter: {
      recent: (now) => index.recentActions(now.toISOString()),
      reserve: (input) => index.reserve(input),
      settle: (key, outcome) => index.settle(key, outcome),
    },
  });
  const slack =
    config.slack.kind === "none" ? null : createSlackClient({ fetch: fetchImpl, config: config.slack });
  const notify = config.notify ? createNotifyClient({ ...config.notify, fetch: fetchImpl }) : null;
  return { core, slack, notify };
}
