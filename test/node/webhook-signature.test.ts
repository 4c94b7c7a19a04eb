/** Known-answer tests for the Atlas signature: RFC 2202 HMAC-SHA1 vectors, base64-encoded as Atlas sends them. */
import { describe, expect, it } from "vitest";
import {
  checkAtlasSignature,
  signAtlasBody,
  verifyAtlasSignature,
} from "../../src/atlas/webhook-signature.ts";

const bytes = (text: string) => Uint8Array.from(new TextEncoder().encode(text));
const hexToBase64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

// RFC 2202 §3, test cases 1, 2 and 6 (key longer than the block size).
const VECTORS = [
  { key: "\x0b".repeat(20), data: "Hi There", mac: "b617318655057264e28bc0b6fb378c8ef146be00" },
  { key: "Jefe", data: "what do ya want for nothing?", mac: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
  {
    key: "\xaa".repeat(80),
    data: "Test Using Larger Than Block-Size Key - Hash Key First",
    mac: "aa4ae5e15272d00e95705637ce8a3b55ed402112",
  },
];

describe("Atlas webhook signature", () => {
  it.each(VECTORS.slice(0, 2))("verifies the RFC 2202 vector for key $key", async ({ key, data, mac }) => {
    expect(await verifyAtlasSignature(bytes(data), hexToBase64(mac), key)).toBe(true);
    expect(await signAtlasBody(data, key)).toBe(hexToBase64(mac));
  });

  it("treats the key as UTF-8, as Atlas does for the secret it is given", async () => {
    // 0xAA is not ASCII: as a string key it is UTF-8 encoded (c2 aa), so the RFC's raw-byte MAC must NOT match.
    const { key, data, mac } = VECTORS[2]!;
    expect(await verifyAtlasSignature(bytes(data), hexToBase64(mac), key)).toBe(false);
  });

  it("rejects a tampered body, another secret, and malformed headers", async () => {
    const body = bytes('{"id":"1"}');
    const good = await signAtlasBody(body, "s3cret");
    expect(await verifyAtlasSignature(body, good, "s3cret")).toBe(true);
    expect(await checkAtlasSignature(bytes('{"id":"2"}'), good, "s3cret")).toEqual({
      ok: false,
      reason: "mismatch",
    });
    expect(await checkAtlasSignature(body, good, "other")).toEqual({ ok: false, reason: "mismatch" });
    expect(await checkAtlasSignature(body, null, "s3cret")).toEqual({ ok: false, reason: "missing" });
    expect(await checkAtlasSignature(body, "", "s3cret")).toEqual({ ok: false, reason: "missing" });
    for (const bad of [
      "***",
      "abc",
      good.slice(0, -4),
      `${good}AAAA`,
      Buffer.from(good, "base64").toString("hex"),
    ]) {
      expect(await checkAtlasSignature(body, bad, "s3cret")).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("throws when no secret is configured instead of accepting anything", async () => {
    await expect(checkAtlasSignature(bytes("{}"), "AAAA", "")).rejects.toThrow(/not configured/);
  });
});
