/**
 * Atlas webhook signatures: `X-MMS-Signature` is the base64 HMAC-SHA1 of the raw request body,
 * keyed with the project's webhook secret (notes/atlas.md §1.2).
 *
 * A pure function over bytes, using WebCrypto so it runs the same in workerd and Node.
 * `crypto.subtle.verify` compares in constant time. Malformed input answers `false` (the caller
 * answers 401); only a missing secret throws, because that is a deployment error, not a bad request.
 *
 * During a rotation the previous secret (ATLAS_WEBHOOK_SECRET_PREVIOUS) is tried after the current
 * one, and the result says it matched, so the log can show when no sender uses it any more.
 */

const encoder = new TextEncoder();

/** Decodes strict base64 (standard alphabet, padded); null for anything else. */
function decodeBase64(value: string): Uint8Array<ArrayBuffer> | null {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed))
    return null;
  try {
    const binary = atob(trimmed);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** Why a signature check failed, for the log only; the caller's answer is always "invalid signature". */
export type SignatureCheck =
  | { ok: true; previous?: true }
  | { ok: false; reason: "missing" | "malformed" | "mismatch" };

/**
 * Imported keys, by secret: importing costs about as much as verifying a small body, and an isolate
 * sees the same one or two secrets on every request. A handful at most (current and previous, and a
 * test's own), so a rotation never grows it without bound.
 */
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 4;

function verifyKey(secret: string): Promise<CryptoKey> {
  let key = verifyKeys.get(secret);
  if (!key) {
    if (verifyKeys.size >= MAX_CACHED_KEYS) verifyKeys.clear();
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-1" }, false, [
      "verify",
    ]);
    // A failed import is not remembered.
    key.catch(() => verifyKeys.delete(secret));
    verifyKeys.set(secret, key);
  }
  return key;
}

async function macMatches(secret: string, mac: Uint8Array<ArrayBuffer>, body: Uint8Array<ArrayBuffer>) {
  return crypto.subtle.verify("HMAC", await verifyKey(secret), mac, body);
}

/**
 * Checks `signature` (the header value, or null) against HMAC-SHA1(secret, body), then, when
 * given, against HMAC-SHA1(previousSecret, body); `previous: true` says the old secret matched.
 */
export async function checkAtlasSignature(
  body: Uint8Array<ArrayBuffer>,
  signature: string | null | undefined,
  secret: string,
  previousSecret?: string,
): Promise<SignatureCheck> {
  if (!secret) throw new Error("the Atlas webhook secret is not configured");
  if (!signature) return { ok: false, reason: "missing" };
  const expected = decodeBase64(signature);
  // SHA-1 MACs are 20 bytes; anything else cannot match and is not worth a crypto call.
  if (expected?.byteLength !== 20) return { ok: false, reason: "malformed" };
  if (await macMatches(secret, expected, body)) return { ok: true };
  if (previousSecret && (await macMatches(previousSecret, expected, body)))
    return { ok: true, previous: true };
  return { ok: false, reason: "mismatch" };
}

/** True when `signature` is the Atlas signature of `body` under `secret`. */
export async function verifyAtlasSignature(
  body: Uint8Array<ArrayBuffer>,
  signature: string | null | undefined,
  secret: string,
): Promise<boolean> {
  return (await checkAtlasSignature(body, signature, secret)).ok;
}

/** Signs `body` the way Atlas does; used by `npm run alert:test` and the tests. */
export async function signAtlasBody(body: Uint8Array<ArrayBuffer> | string, secret: string): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes));
  let binary = "";
  for (const byte of mac) binary += String.fromCharCode(byte);
  return btoa(binary);
}
