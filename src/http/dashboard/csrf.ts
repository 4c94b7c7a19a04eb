/**
 * CSRF tokens for the dashboard's forms: HMAC-SHA256 of the session id under a key derived from
 * ADMIN_TOKEN (a purpose of its own, so the token is not the cookie's MAC). Every form carries it in
 * a hidden `csrf` field; every POST compares it in constant time before anything else happens.
 * SameSite=Lax already keeps the cookie off cross-site POSTs; the token is the second lock.
 */
import { sameSecret } from "../admin-auth.ts";
import { base64url, derivedKey, type Session } from "./session.ts";

const encoder = new TextEncoder();

export const CSRF_FIELD = "csrf";

export async function csrfToken(adminToken: string, session: Session): Promise<string> {
  const key = await derivedKey(adminToken, "csrf");
  return base64url(await crypto.subtle.sign("HMAC", key, encoder.encode(session.id)));
}

/** Whether `given` is this session's token, compared in constant time. */
export async function csrfMatches(adminToken: string, session: Session, given: unknown): Promise<boolean> {
  if (typeof given !== "string" || given === "") return false;
  return sameSecret(given, await csrfToken(adminToken, session));
}
