/**
 * How the Admin API client proves who it is: a service account (OAuth client credentials; the token
 * is cached until OAUTH_REFRESH_MARGIN_MS before it expires, one refresh and one retry on a 401) or a
 * legacy API key (HTTP Digest, MD5, qop=auth; the nonce is reused with a rising `nc`, so only the
 * first call pays the challenge round-trip). A 401 means Atlas did nothing, so resending after it is
 * safe even for a POST. Both schemes meet the client as one `Authorizer`.
 *
 * Trade-off: MD5 comes from `node:crypto`, which Node has and workerd provides under `nodejs_compat`
 * (enabled in wrangler.toml). WebCrypto would avoid the `node:` import, but Node's WebCrypto has no
 * MD5 and workerd's MD5 is a non-standard extension; a hand-written MD5 would be our own crypto.
 */
import { createHash } from "node:crypto";
import * as z from "zod";
import { OAUTH_REFRESH_MARGIN_MS } from "../constants.ts";
import type { Clock, HttpClient, HttpMethod, HttpRequest, HttpResponse } from "../outbound/http.ts";
import { parseBody } from "./admin-schemas.ts";

const TokenBody = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  token_type: z.string().optional(),
});

export interface Authorizer {
  /** The `Authorization` for the next request; undefined lets the server challenge first (Digest). */
  header(method: HttpMethod, requestTarget: string): Promise<string | undefined>;
  /** Learns from a 401 (drop the token, take the new nonce); false when another try cannot help. */
  recover(response: HttpResponse, sent: string | undefined): Promise<boolean>;
}

/** Service-account auth: tokens minted at `tokenUrl` over `http`, cached per authorizer. */
export function serviceAccountAuth(
  auth: { clientId: string; clientSecret: string },
  http: HttpClient,
  tokenUrl: URL,
  clock: Clock,
): Authorizer {
  let cached: { header: string; refreshAt: number } | undefined;
  let minting: Promise<string> | undefined;

  async function mint(): Promise<string> {
    const request: HttpRequest = {
      method: "POST",
      url: tokenUrl,
      headers: {
        accept: "application/json",
        authorization: `Basic ${btoa(`${auth.clientId}:${auth.clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
      // Minting a token changes nothing at Atlas, so this POST may be retried like a read.
      idempotent: true,
    };
    const response = await http.request(request);
    const token = parseBody(TokenBody, request, response);
    const lifetimeMs = token.expires_in * 1000;
    // Refresh a margin early; a token too short-lived for the margin is refreshed at half its life.
    const usable =
      lifetimeMs > 2 * OAUTH_REFRESH_MARGIN_MS ? lifetimeMs - OAUTH_REFRESH_MARGIN_MS : lifetimeMs / 2;
    const header = `Bearer ${token.access_token}`;
    cached = { header, refreshAt: clock.now() + usable };
    return header;
  }

  return {
    async header() {
      if (cached && clock.now() < cached.refreshAt) return cached.header;
      // One mint at a time: concurrent calls share it instead of each asking for a token.
      minting ??= mint().finally(() => {
        minting = undefined;
      });
      return minting;
    },
    async recover(_response, sent) {
      // Drop the token only if it is the one that failed; a concurrent call may have replaced it already.
      if (cached && cached.header === sent) cached = undefined;
      return true;
    },
  };
}

interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

/** Reads the Digest challenge of a `WWW-Authenticate` header; undefined when there is none. */
export function parseDigestChallenge(header: string | null): DigestChallenge | undefined {
  if (!header || !/^\s*digest\s/i.test(header)) return undefined;
  const params = new Map<string, string>();
  const pattern = /([a-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/gi;
  for (const match of header.replace(/^\s*digest\s+/i, "").matchAll(pattern)) {
    const key = match[1]?.toLowerCase();
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3];
    if (key && value !== undefined) params.set(key, value);
  }
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  if (realm === undefined || nonce === undefined) return undefined;
  // qop may offer a list ("auth,auth-int"); we only speak "auth".
  const offered = params
    .get("qop")
    ?.split(",")
    .map((q) => q.trim().toLowerCase());
  return {
    realm,
    nonce,
    qop: offered?.includes("auth") ? "auth" : undefined,
    opaque: params.get("opaque"),
    algorithm: params.get("algorithm"),
  };
}

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
const quote = (value: string) => `"${value.replace(/["\\]/g, "\\$&")}"`;

/** The Digest `Authorization` value (RFC 7616, MD5). Exported for known-answer tests. */
export function digestAuthorization(input: {
  username: string;
  password: string;
  method: string;
  uri: string;
  challenge: DigestChallenge;
  nc: number;
  cnonce: string;
}): string {
  const { username, password, method, uri, challenge, nc, cnonce } = input;
  const ha1 = md5(`${username}:${challenge.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const ncHex = nc.toString(16).padStart(8, "0");
  const response = challenge.qop
    ? md5(`${ha1}:${challenge.nonce}:${ncHex}:${cnonce}:${challenge.qop}:${ha2}`)
    : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
    "algorithm=MD5",
    `response=${quote(response)}`,
  ];
  if (challenge.qop) parts.push(`qop=${challenge.qop}`, `nc=${ncHex}`, `cnonce=${quote(cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(", ")}`;
}

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return [...buffer].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** API-key auth: HTTP Digest, answering the challenge of the first 401. */
export function digestAuth(auth: { publicKey: string; privateKey: string }): Authorizer {
  let challenge: DigestChallenge | undefined;
  let nc = 0;
  return {
    async header(method, requestTarget) {
      if (!challenge) return undefined;
      nc += 1;
      return digestAuthorization({
        username: auth.publicKey,
        password: auth.privateKey,
        method,
        uri: requestTarget,
        challenge,
        nc,
        cnonce: randomHex(16),
      });
    },
    async recover(response) {
      const fresh = parseDigestChallenge(response.headers.get("www-authenticate"));
      if (!fresh) return false;
      challenge = fresh;
      nc = 0;
      return true;
    },
  };
}
