/**
 * `Authorization: Bearer <ADMIN_TOKEN>` for the operator routes.
 *
 * Both sides are hashed before the constant-time comparison so neither their lengths nor their
 * contents leak through timing. A missing `ADMIN_TOKEN` fails closed: nobody gets in.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { jsonError } from "./errors.ts";

const encoder = new TextEncoder();

/** Compares two secrets in constant time (both hashed first). */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Lets a request through only with the right bearer token. */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.var.config.adminToken;
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  let reason: string | null = null;
  if (!expected) reason = "ADMIN_TOKEN is not configured";
  else if (!match) reason = header ? "malformed Authorization header" : "no Authorization header";
  else if (!(await sameSecret(match[1]!, expected))) reason = "wrong token";
  if (reason) {
    c.var.log.log("warn", "admin.unauthorized", { path: c.req.path, reason });
    c.header("WWW-Authenticate", 'Bearer realm="atlas-responder"');
    return jsonError(c, 401, "unauthorized");
  }
  await next();
});
