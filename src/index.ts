/**
 * The Worker entry: builds the dependencies from `env` and hands requests to the app.
 * Everything here is wiring; behaviour lives in the modules it imports.
 */
import pkg from "../package.json" with { type: "json" };
import { type Config, parseConfig } from "./config/schema.ts";
import { createApp } from "./http/app.ts";
import { createLedgerGateway, type LedgerBindings } from "./ledger/gateway.ts";

export { LoginGuard } from "./http/dashboard/login-guard.ts";
export { Ledger, LedgerIndex } from "./ledger/ledger.ts";

type WorkerEnv = LedgerBindings & Record<string, unknown>;

// One parse per env object: workerd reuses the same env across requests in an isolate.
const configs = new WeakMap<object, Config>();

const app = createApp<WorkerEnv>({
  version: pkg.version,
  config(env) {
    let config = configs.get(env);
    if (!config) {
      config = parseConfig(env);
      configs.set(env, config);
    }
    return config;
  },
  ledgers: (env) => createLedgerGateway(env),
});

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<WorkerEnv>;
