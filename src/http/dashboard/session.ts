/**
 * The dashboard's login cookie. Holding ADMIN_TOKEN is the only way in; the cookie proves it was
 * shown, until it expires.
 *
 * Value: `v1.<id>.<expires>.<mac>` — a random id (16 bytes, base64url), the expiry in epoch ms, and
 * HMAC-SHA256 over the rest with a key derived from ADMIN_TOKEN (HKDF, fixed salt and label). No
 * new secret: rotating ADMIN_TOKEN changes the key, so every cookie signed before stops verifying.
 * The expiry sits inside the signed value, so stretching the cookie's own Max-Age buys nothing.
 *
 * Flags: HttpOnly, SameSite=Lax, Path=/, Max-Age and Expires; Secure except on loopback hosts,
 * where a local `wrangler dev` serves plain HTTP.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

export const SESSION_COOKIE = "responder_session";
export const SESSION_TTL_MS = 12 * 3600_000;

const encoder = new TextEncoder();
const SALT = encoder.encode("atlas-responder dashboard");

export interface Session {
  id: string;
  expiresAt: number;
}

export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const b of view) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** An HMAC-SHA256 key for one purpose ("session", "csrf"), derived from ADMIN_TOKEN. */
export async function derivedKey(adminToken: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(adminToken), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: encoder.encode(`dashboard ${purpose} v1`) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** A new signed cookie value. */
export async function signSession(
  adminToken: string,
  now: number,
): Promise<{ value: string; session: Session }> {
  const id = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const expiresAt = now + SESSION_TTL_MS;
  const body = `v1.${id}.${expiresAt}`;
  const key = await derivedKey(adminToken, "session");
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(body));
  return { value: `${body}.${base64url(mac)}`, session: { id, expiresAt } };
}

/** The session a cookie value proves, or null: malformed, signed with another token, or expired. */
export async function verifySession(adminToken: string, value: string, now: number): Promise<Session | null> {
  const match = /^v1\.([A-Za-z0-9_-]{22})\.(\d{13,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!match) return null;
  const [, id, expires, macText] = match;
  const mac = fromBase64url(macText!);
  if (!mac) return null;
  const key = await derivedKey(adminToken, "session");
  // verify() compares in constant time.
  const ok = await crypto.subtle.verify("HMAC", key, mac, encoder.encode(`v1.${id}.${expires}`));
  const expiresAt = Number(expires);
  if (!ok || !(expiresAt > now)) return null;
  return { id: id!, expiresAt };
}

/** Loopback hosts, where the cookie may travel over plain HTTP. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127\./.test(host);
}

export function setSessionCookie(c: Context, value: string, session: Session): void {
  setCookie(c, SESSION_COOKIE, value, {
    httpOnly: true,
    secure: !isLoopback(c.req.url),
    sameSite: "Lax",
    path: "/",
    maxAge: Math.floor((session.expiresAt - Date.now()) / 1000),
    expires: new Date(session.expiresAt),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, {
    httpOnly: true,
    secure: !isLoopback(c.req.url),
    sameSite: "Lax",
    path: "/",
  });
}

/** The request's valid session, or null. */
export async function sessionOf(c: Context, adminToken: string | undefined): Promise<Session | null> {
  if (!adminToken) return null;
  const value = getCookie(c, SESSION_COOKIE);
  if (!value) return null;
  return verifySession(adminToken, value, Date.now());
}
