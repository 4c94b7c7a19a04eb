/** @jsxImportSource hono/jsx */
/**
 * `GET /login`, `POST /login`, `POST /logout`.
 *
 * The form takes ADMIN_TOKEN; it is compared in constant time. A wrong token sets no cookie and
 * counts against the client's address in the `LoginGuard` Durable Object; a locked address answers
 * 429 with Retry-After, whatever it sends. A right one sets the signed cookie (./session.ts) and
 * redirects (303) to the page asked for. A cross-origin login POST (a foreign `Origin`) is refused.
 * Logout is a POST with the CSRF token; it clears the cookie.
 */
import type { Context } from "hono";
import { sameSecret } from "../admin-auth.ts";
import { CSRF_FIELD, csrfMatches } from "./csrf.ts";
import type { DashboardEnv } from "./env.ts";
import { Layout } from "./layout.tsx";
import { clearSessionCookie, sessionOf, setSessionCookie, signSession } from "./session.ts";

/** Where to go after logging in: a local path only, never another origin. */
export function safeNext(raw: string | undefined): string {
  if (!raw || !/^\/(?![/\\])[A-Za-z0-9/_.~:@!$&'()*+,;=%?-]*$/.test(raw)) return "/";
  return raw;
}

export function loginUrl(next: string): string {
  return next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`;
}

function LoginPage(props: { next: string; error?: string }) {
  return (
    <Layout title="Log in">
      <section class="card login" aria-labelledby="login-title">
        <h1 id="login-title">Log in</h1>
        {props.error && (
          <p class="error" role="alert">
            {props.error}
          </p>
        )}
        <form method="post" action="/login">
          <input type="hidden" name="next" value={props.next} />
          <label for="token">Admin token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="current-password"
            required
            aria-describedby="token-help"
          />
          <p id="token-help" class="muted">
            The Worker's ADMIN_TOKEN. The login lasts 12 hours, or until the token is rotated.
          </p>
          <button type="submit">Log in</button>
        </form>
      </section>
    </Layout>
  );
}

type Ctx = Context<DashboardEnv>;

export async function showLogin(c: Ctx) {
  const next = safeNext(c.req.query("next"));
  if (await sessionOf(c, c.var.config.adminToken)) return c.redirect(next, 303);
  const error = c.var.config.adminToken ? undefined : "The dashboard is off: ADMIN_TOKEN is not configured.";
  return c.html(<LoginPage next={next} error={error} />, error ? 503 : 200);
}

/** The guard's name for this client: its address, or one shared name when none is given. */
const clientKey = (c: Ctx) => `ip:${c.req.header("cf-connecting-ip")?.trim() || "unknown"}`;

function sameOrigin(c: Ctx): boolean {
  const origin = c.req.header("origin");
  if (!origin || origin === "null") return origin === undefined;
  try {
    return new URL(origin).host === new URL(c.req.url).host;
  } catch {
    return false;
  }
}

export async function login(c: Ctx) {
  const { config, log } = c.var;
  if (!sameOrigin(c))
    return c.html(<LoginPage next="/" error="This form must be sent from this site." />, 403);
  const form = await c.req.parseBody();
  const next = safeNext(typeof form.next === "string" ? form.next : undefined);
  const expected = config.adminToken;
  if (!expected) {
    return c.html(
      <LoginPage next={next} error="The dashboard is off: ADMIN_TOKEN is not configured." />,
      503,
    );
  }
  const guard = c.env.LOGIN_GUARD.getByName(clientKey(c));
  const now = Date.now();
  const locked = (seconds: number) => {
    c.header("Retry-After", String(seconds));
    return c.html(
      <LoginPage next={next} error={`Too many failed logins. Try again in ${seconds} s.`} />,
      429,
    );
  };
  const before = await guard.check(now);
  if (!before.ok) {
    log.log("warn", "dashboard.login-locked", { retryAfterSeconds: before.retryAfterSeconds });
    return locked(before.retryAfterSeconds);
  }
  const token = typeof form.token === "string" ? form.token : "";
  if (!(await sameSecret(token, expected))) {
    const after = await guard.fail(now);
    log.log("warn", "dashboard.login-failed", { locked: !after.ok });
    if (!after.ok) return locked(after.retryAfterSeconds);
    return c.html(<LoginPage next={next} error="That is not the admin token." />, 401);
  }
  await guard.succeed();
  const { value, session } = await signSession(expected, now);
  setSessionCookie(c, value, session);
  log.log("info", "dashboard.login", {});
  return c.redirect(next, 303);
}

export async function logout(c: Ctx) {
  const form = await c.req.parseBody();
  const session = await sessionOf(c, c.var.config.adminToken);
  if (!session || !(await csrfMatches(c.var.config.adminToken!, session, form[CSRF_FIELD]))) {
    return forbidden(c);
  }
  clearSessionCookie(c);
  return c.redirect("/login", 303);
}

export function forbidden(c: Ctx) {
  return c.html(
    <Layout title="Forbidden">
      <h1>Forbidden</h1>
      <p>
        This form has expired or did not come from this dashboard. Go back, reload the page and try again.
      </p>
    </Layout>,
    403,
  );
}
