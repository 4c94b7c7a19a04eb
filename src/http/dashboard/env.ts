/**
 * What the dashboard's handlers find in their context: the app's variables (configuration, ledger
 * gateway, logger), the login guard's binding, and — once the session check has run — the session
 * and its CSRF token.
 */
import type { AppEnv } from "../app-env.ts";
import type { LoginGuard } from "./login-guard.ts";
import type { Session } from "./session.ts";

export interface DashboardBindings {
  LOGIN_GUARD: DurableObjectNamespace<LoginGuard>;
}

export type DashboardEnv = {
  Bindings: DashboardBindings;
  Variables: AppEnv["Variables"] & { session: Session; csrf: string };
};
