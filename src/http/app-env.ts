/**
 * `AppEnv`: what every route finds in `c.var` once the app's middleware has run — the parsed
 * configuration, the ledger gateway and a logger. Its own module so the app that sets these and the
 * routes that read them both import it, and neither imports the other.
 * Trade-off: a type-only file of one declaration, in exchange for routes that load without the app.
 */
import type { Config } from "../config/schema.ts";
import type { LedgerGateway } from "../ledger/gateway.ts";
import type { Logger } from "../observability/log.ts";

export type AppEnv = {
  Variables: { config: Config; ledgers: LedgerGateway; log: Logger };
};
