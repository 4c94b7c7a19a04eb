/**
 * The dashboard's routes, mounted at the root by src/http/app.ts (which parses the configuration
 * for them first). Pages need the login cookie: without it a GET answers 303 to the login form and
 * a POST answers 403. Every answer here carries the security headers below; pages are never cached.
 *
 *   GET  /                           clusters (./overview.tsx)
 *   GET  /ui/incidents               incident list (./incidents.tsx)
 *   GET  /ui/incidents/:id           one incident (./incident.tsx)
 *   POST /ui/incidents/:id/decision  approve / skip / snooze (./actions.tsx)
 *   GET  /login, POST /login, POST /logout (./login.tsx)
 *   GET  /assets/dashboard.css       the stylesheet (./styles.ts)
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { decide } from "./actions.tsx";
import { csrfToken } from "./csrf.ts";
import type { DashboardEnv } from "./env.ts";
import { incidentPage } from "./incident.tsx";
import { incidentsPage } from "./incidents.tsx";
import { forbidden, login, loginUrl, logout, showLogin } from "./login.tsx";
import { overviewPage } from "./overview.tsx";
import { sessionOf } from "./session.ts";
import { STYLESHEET, STYLESHEET_PATH } from "./styles.ts";

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const secured = createMiddleware<DashboardEnv>(async (c, next) => {
  await next();
  c.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
  c.header("X-Frame-Options", "DENY");
  if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
});

/** Forms are small; anything bigger is not ours. */
const smallForm = bodyLimit({ maxSize: 8 * 1024, onError: (c) => c.text("payload too large", 413) });

/** Lets a request through with a valid login cookie, and hands the page its CSRF token. */
function requireSession(kind: "page" | "post") {
  return createMiddleware<DashboardEnv>(async (c, next) => {
    const token = c.var.config.adminToken;
    const session = await sessionOf(c, token);
    if (!session || !token) {
      if (kind === "post") return forbidden(c);
      const url = new URL(c.req.url);
      return c.redirect(loginUrl(`${url.pathname}${url.search}`), 303);
    }
    c.set("session", session);
    c.set("csrf", await csrfToken(token, session));
    await next();
  });
}

export const dashboard = new Hono<DashboardEnv>()
  .get(STYLESHEET_PATH, secured, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8" });
  })
  .get("/login", secured, showLogin)
  .post("/login", secured, smallForm, login)
  .post("/logout", secured, smallForm, logout)
  .get("/", secured, requireSession("page"), overviewPage)
  .get("/ui/incidents", secured, requireSession("page"), incidentsPage)
  .get("/ui/incidents/:id", secured, requireSession("page"), incidentPage)
  .post("/ui/incidents/:id/decision", secured, smallForm, requireSession("post"), decide);
