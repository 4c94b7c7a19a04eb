/**
 * Rotating the Atlas webhook secret and the Slack signing secret without downtime: while
 * ATLAS_WEBHOOK_SECRET_PREVIOUS / SLACK_SIGNING_SECRET_PREVIOUS is set, a signature under either
 * secret verifies (and says which); without it the old secret is refused. check:config reminds the
 * operator to finish the rotation and refuses a previous secret with no current one.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkAtlasSignature, signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { configProblems } from "../../src/cli/check-config.ts";
import { parseConfig } from "../../src/config/schema.ts";
import { verifySlackSignature } from "../../src/slack/signature.ts";

const NEW = "whsec-rotation-new-value-41d2";
const OLD = "whsec-rotation-old-value-9c7a";
const OTHER = "whsec-rotation-neither-5e11";
const body = new Uint8Array(new TextEncoder().encode('{"id":"rotation"}'));

describe("the Atlas webhook signature during a rotation", () => {
  it("accepts the current secret, then the previous one (saying so), and refuses a third", async () => {
    const signedNew = await signAtlasBody(body, NEW);
    const signedOld = await signAtlasBody(body, OLD);
    const signedOther = await signAtlasBody(body, OTHER);
    expect(await checkAtlasSignature(body, signedNew, NEW, OLD)).toEqual({ ok: true });
    expect(await checkAtlasSignature(body, signedOld, NEW, OLD)).toEqual({ ok: true, previous: true });
    expect(await checkAtlasSignature(body, signedOther, NEW, OLD)).toEqual({ ok: false, reason: "mismatch" });
  });

  it("refuses the old secret once the previous one is unset", async () => {
    const signedOld = await signAtlasBody(body, OLD);
    expect(await checkAtlasSignature(body, signedOld, NEW)).toEqual({ ok: false, reason: "mismatch" });
    expect(await checkAtlasSignature(body, signedOld, NEW, "")).toEqual({ ok: false, reason: "mismatch" });
  });
});

describe("the Slack signature during a rotation", () => {
  const ts = "1700000000";
  const raw = "payload=%7B%7D";
  const sign = (secret: string) =>
    `v0=${createHmac("sha256", secret).update(`v0:${ts}:${raw}`).digest("hex")}`;
  const check = (signature: string, previousSecret?: string) =>
    verifySlackSignature({
      rawBody: new TextEncoder().encode(raw),
      timestamp: ts,
      signature,
      secret: NEW,
      previousSecret,
      now: new Date(Number(ts) * 1000 + 5_000),
    });

  it("accepts the current and the previous secret, refuses any other and the old one once unset", async () => {
    expect(await check(sign(NEW), OLD)).toEqual({ ok: true });
    expect(await check(sign(OLD), OLD)).toEqual({ ok: true, previous: true });
    expect(await check(sign(OTHER), OLD)).toEqual({ ok: false, reason: "mismatch" });
    expect(await check(sign(OLD))).toEqual({ ok: false, reason: "mismatch" });
  });

  it("still applies the five-minute window to a request signed with the previous secret", async () => {
    const stale = await verifySlackSignature({
      rawBody: new TextEncoder().encode(raw),
      timestamp: ts,
      signature: sign(OLD),
      secret: NEW,
      previousSecret: OLD,
      now: new Date((Number(ts) + 301) * 1000),
    });
    expect(stale).toEqual({ ok: false, reason: "stale" });
  });
});

describe("configuration", () => {
  const BASE = {
    ATLAS_WEBHOOK_SECRET: NEW,
    ADMIN_TOKEN: "admin-rotation-0123456789",
    RESPONDER_MODE: "auto",
  };

  it("parses both previous secrets and scrubs them from logs like every other secret", () => {
    const config = parseConfig({
      ...BASE,
      ATLAS_WEBHOOK_SECRET_PREVIOUS: OLD,
      SLACK_SIGNING_SECRET: "slack-signing-new-7781",
      SLACK_SIGNING_SECRET_PREVIOUS: "slack-signing-old-3310",
    });
    expect(config.previousSecrets).toEqual({ atlasWebhook: OLD, slackSigning: "slack-signing-old-3310" });
    expect(config.secrets).toEqual(expect.arrayContaining([OLD, "slack-signing-old-3310"]));
    expect(parseConfig(BASE).previousSecrets).toEqual({ atlasWebhook: undefined, slackSigning: undefined });
  });

  it("check:config warns while a rotation is unfinished and refuses a previous secret without a current one", () => {
    const rotating = configProblems({
      ...BASE,
      ATLAS_WEBHOOK_SECRET_PREVIOUS: OLD,
      SLACK_SIGNING_SECRET_PREVIOUS: "slack-signing-old-3310",
    });
    expect(rotating.errors).toEqual([
      {
        key: "SLACK_SIGNING_SECRET_PREVIOUS",
        message: "is set without SLACK_SIGNING_SECRET: put the new secret in SLACK_SIGNING_SECRET",
      },
    ]);
    expect(rotating.warnings).toContainEqual({
      key: "ATLAS_WEBHOOK_SECRET_PREVIOUS",
      message:
        "is still accepted beside ATLAS_WEBHOOK_SECRET: remove it once every sender uses the new secret",
    });
    const same = configProblems({ ...BASE, ATLAS_WEBHOOK_SECRET_PREVIOUS: NEW });
    expect(same.errors).toEqual([]);
    expect(same.warnings).toContainEqual({
      key: "ATLAS_WEBHOOK_SECRET_PREVIOUS",
      message: "equals ATLAS_WEBHOOK_SECRET, so it rotates nothing",
    });
    // No value ever appears in a problem.
    expect(JSON.stringify([rotating, same].map((r) => [r.errors, r.warnings]))).not.toContain(OLD);
  });
});
