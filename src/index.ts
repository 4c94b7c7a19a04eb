/**
 * The Worker entry: builds the dependencies from `env` and hands requests to the app.
 * Everything here is wiring; behaviour lives in the modules it imports.
 */
import pkg from "../package.json" with { type: "json" };
import { type Config, parseConfig } from "./config/schema.ts";
import { createApp } from "./http/app.ts";
import { createLedgerGateway, type LedgerBindings, runWatch } from "./ledger/gateway.ts";
import { createConsoleLogger } from "./observability/log.ts";

export { LoginGuard } from "./http/dashboard/login-guard.ts";
export { Ledger, LedgerIndex } from "./ledger/ledger.ts";

type WorkerEnv = LedgerBindings & Record<string, unknown>;

// One parse per env object: workerd reuses the same env across requests in an isolate.
const configs = new WeakMap<object, Config>();

function configOf(env: WorkerEnv): Config {
  let config = configs.get(env);
  if (!config) {
    config = parseConfig(env);
    configs.set(env, config);
  }
  return config;
}

const app = createApp<WorkerEnv>({
  version: pkg.version,
  config: configOf,
  ledgers: (env) => createLedgerGateway(env, configOf(env)),
});

export default {
  fetch: app.fetch,
  /** The cron watch (wrangler.toml `[triggers]`): one sample of every CLUSTERS entry per run. */
  async scheduled(_controller, env) {
    const config = configOf(env);
    if (config.clusters.length === 0) return;
    await runWatch(env, config, createConsoleLogger(config.secrets));
  },
} satisfies ExportedHandler<WorkerEnv>;
