/**
 * Slack request signatures: Slack's own worked example (api.slack.com "Verifying requests from
 * Slack"), the replay window, and every way a request can be wrong.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifySlackSignature } from "../../src/slack/signature.ts";

// Slack's documented example, verbatim.
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

const bytes = (text: string) => new TextEncoder().encode(text);
const at = (seconds: number) => new Date(seconds * 1000);
const NOW = at(Number(TIMESTAMP) + 30);

const check = (overrides: Partial<Parameters<typeof verifySlackSignature>[0]> = {}) =>
  verifySlackSignature({
    rawBody: bytes(BODY),
    timestamp: TIMESTAMP,
    signature: SIGNATURE,
    secret: SECRET,
    now: NOW,
    ...overrides,
  });

describe("verifySlackSignature", () => {
  it("accepts Slack's documented example", async () => {
    expect(await check()).toEqual({ ok: true });
    // The hex may arrive in upper case; it is the same MAC.
    expect(await check({ signature: SIGNATURE.toUpperCase().replace("V0=", "v0=") })).toEqual({ ok: true });
  });

  it("rejects a tampered body and a wrong secret as a mismatch", async () => {
    expect(await check({ rawBody: bytes(BODY.replace("roadrunner", "coyote")) })).toEqual({
      ok: false,
      reason: "mismatch",
    });
    expect(await check({ rawBody: bytes(`${BODY}&x=1`) })).toMatchObject({ reason: "mismatch" });
    expect(await check({ secret: "8f742231b10e8888abcd99yyyzzz85a6" })).toMatchObject({ reason: "mismatch" });
  });

  it("signs the timestamp: a replayed signature under a fresh timestamp fails", async () => {
    const fresh = String(Number(TIMESTAMP) + 10);
    expect(await check({ timestamp: fresh })).toMatchObject({ reason: "mismatch" });
  });

  it("enforces the five-minute window on both sides", async () => {
    expect(await check({ now: at(Number(TIMESTAMP) + 300) })).toEqual({ ok: true });
    expect(await check({ now: at(Number(TIMESTAMP) + 301) })).toEqual({ ok: false, reason: "stale" });
    expect(await check({ now: at(Number(TIMESTAMP) - 301) })).toEqual({ ok: false, reason: "stale" });
    expect(await check({ now: at(Number(TIMESTAMP) + 100), toleranceSeconds: 60 })).toMatchObject({
      reason: "stale",
    });
  });

  it("reports missing and malformed headers", async () => {
    expect(await check({ signature: null })).toEqual({ ok: false, reason: "missing" });
    expect(await check({ timestamp: null })).toEqual({ ok: false, reason: "missing" });
    expect(await check({ signature: "" })).toEqual({ ok: false, reason: "missing" });
    expect(await check({ timestamp: "soon" })).toEqual({ ok: false, reason: "malformed" });
    expect(await check({ timestamp: "1531420618.5" })).toEqual({ ok: false, reason: "malformed" });
    expect(await check({ signature: SIGNATURE.replace("v0=", "v1=") })).toEqual({
      ok: false,
      reason: "malformed",
    });
    expect(await check({ signature: SIGNATURE.slice(0, -2) })).toEqual({ ok: false, reason: "malformed" });
    expect(await check({ signature: `${SIGNATURE.slice(0, -1)}g` })).toEqual({
      ok: false,
      reason: "malformed",
    });
  });

  it("throws when no secret is configured (fail closed)", async () => {
    await expect(check({ secret: "" })).rejects.toThrow(/signing secret is not configured/);
  });

  it("verifies arbitrary bytes, not only text", async () => {
    const body = new Uint8Array([0xff, 0x00, 0x7b, 0x22, 0xc3, 0xa9]);
    const ts = "1700000000";
    const mac = createHmac("sha256", "s3cret")
      .update(Buffer.concat([Buffer.from(`v0:${ts}:`), Buffer.from(body)]))
      .digest("hex");
    const result = await verifySlackSignature({
      rawBody: body,
      timestamp: ts,
      signature: `v0=${mac}`,
      secret: "s3cret",
      now: at(1700000000),
    });
    expect(result).toEqual({ ok: true });
  });
});
