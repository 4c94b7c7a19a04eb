/**
 * `createApp(deps)`: the Worker's HTTP surface (DESIGN §3). Routes are thin: they validate at the
 * edge and call the ledger. Configuration is parsed once per environment object and handed to
 * routes as `c.var.config`; a broken configuration answers 500 without saying more than that.
 */
import { type Context, Hono, type Next } from "hono";
import type { Config } from "../config/schema.ts";
import { isConfigError } from "../errors.ts";
import type { LedgerGateway } from "../ledger/gateway.ts";
import { createConsoleLogger, describeError, type Logger } from "../observability/log.ts";
import { requireAdmin } from "./admin-auth.ts";
import type { AppEnv } from "./app-env.ts";
import { dashboard } from "./dashboard/routes.ts";
import { STYLESHEET_PATH } from "./dashboard/styles.ts";
import { jsonError } from "./errors.ts";
import { atlasWebhook } from "./routes/atlas-webhook.ts";
import { incidents } from "./routes/incidents.ts";
import { slackActions } from "./routes/slack-actions.ts";
import { trigger } from "./routes/trigger.ts";

export interface AppDeps<Bindings> {
  version: string;
  /** Parses (and may cache) the configuration; throws `ConfigError`. */
  config(env: Bindings): Config;
  ledgers(env: Bindings): LedgerGateway;
  logger?(config: Config | null): Logger;
}

/** The routes each known path answers; anything else on that path is a 405. */
const ALLOWED: Record<string, string> = {
  "/webhooks/atlas": "POST",
  "/trigger": "POST",
  "/incidents": "GET, HEAD",
  "/incidents/:id": "GET, HEAD",
  "/healthz": "GET, HEAD",
  "/slack/actions": "POST",
  // The dashboard (./dashboard/routes.ts).
  "/": "GET, HEAD",
  "/login": "GET, HEAD, POST",
  "/logout": "POST",
  "/ui/incidents": "GET, HEAD",
  "/ui/incidents/:id": "GET, HEAD",
  "/ui/incidents/:id/decision": "POST",
  [STYLESHEET_PATH]: "GET, HEAD",
};

/** Builds the Worker's Hono app from its dependencies. */
export function createApp<Bindings extends object>(deps: AppDeps<Bindings>) {
  const makeLogger = deps.logger ?? ((config: Config | null) => createConsoleLogger(config?.secrets ?? []));
  const app = new Hono<AppEnv & { Bindings: Bindings }>();

  // Healthy means the configuration parses; the problems go to the log, never to the caller.
  app.get("/healthz", (c) => {
    try {
      deps.config(c.env);
    } catch (error) {
      if (!isConfigError(error)) throw error;
      makeLogger(null).log("error", "config.invalid", { problems: error.problems });
      return c.json({ ok: false, error: "configuration invalid" }, 503);
    }
    return c.json({ ok: true, version: deps.version });
  });

  // Configuration is parsed for the known routes only: an unknown path stays a plain 404.
  app.use("/webhooks/*", withConfig);
  app.use("/trigger", withConfig);
  app.use("/incidents", withConfig);
  app.use("/incidents/*", withConfig);
  app.use("/slack/*", withConfig);
  for (const path of ["/", "/login", "/logout", "/ui/*"]) app.use(path, withConfig);

  async function withConfig(c: Context<AppEnv & { Bindings: Bindings }>, next: Next) {
    let config: Config;
    try {
      config = deps.config(c.env);
    } catch (error) {
      if (!isConfigError(error)) throw error;
      // Name the keys in the log (never the values); tell the caller nothing about the setup.
      makeLogger(null).log("error", "config.invalid", { problems: error.problems });
      return jsonError(c, 500, "server misconfigured");
    }
    c.set("config", config);
    c.set("log", makeLogger(config));
    c.set("ledgers", deps.ledgers(c.env));
    await next();
  }

  app.route("/webhooks/atlas", atlasWebhook);
  app.route("/slack/actions", slackActions);
  app.use("/trigger", requireAdmin);
  app.route("/trigger", trigger);
  app.use("/incidents", requireAdmin);
  app.use("/incidents/*", requireAdmin);
  app.route("/incidents", incidents);
  app.route("/", dashboard);

  for (const [path, allow] of Object.entries(ALLOWED)) {
    app.all(path, (c) => {
      c.header("Allow", allow);
      return jsonError(c, 405, "method not allowed");
    });
  }

  app.notFound((c) => jsonError(c, 404, "not found"));
  app.onError((error, c) => {
    const config = (c.get("config") as Config | undefined) ?? null;
    makeLogger(config).log("error", "http.unhandled", { path: c.req.path, ...describeError(error) });
    return jsonError(c, 500, "internal error");
  });
  return app;
}
