/** `POST /webhooks/atlas` inside workerd, through the real Worker and real Durable Object storage. */
import { describe, expect, it } from "vitest";
import {
  alertWith,
  CONNECTIONS_CLOSED_V1,
  CONNECTIONS_PERCENT_CLOSED,
  DISK_ALERT_OPEN,
  FLEX_CONNECTIONS_OPEN,
  M0_CONNECTIONS_OPEN,
} from "../fixtures/atlas-alerts.ts";
import { E2E } from "./e2e-plan.ts";
import { admin, captureLogs, deliver, json } from "./support.ts";

type Outcome = { status: string; incident: string | null };
type Detail = {
  state: string;
  cluster: { groupId: string; name: string };
  alerts: Array<{ alertId: string; event: string | null; status: string }>;
  journal: Array<{ step: string; status: string; detail: Record<string, unknown> }>;
};

// Every accepted delivery writes a webhook.recorded line; the tests below read them instead of printing.
const logs = captureLogs(["webhook.recorded"]);

async function incident(id: string): Promise<Detail> {
  const response = await admin(`/incidents/${id}`);
  expect(response.status).toBe(200);
  return json<Detail>(response);
}

describe("published example payloads", () => {
  it("A: a disk alert is ignored and opens nothing", async () => {
    const response = await deliver(DISK_ALERT_OPEN);
    expect(response.status).toBe(202);
    expect(await json(response)).toEqual({ status: "ignored", incident: null });
    const list = await json<{ incidents: unknown[] }>(await admin("/incidents"));
    expect(list.incidents).toEqual([]);
  });

  it("B: a closed legacy CONNECTIONS alert with no open incident is accepted without one", async () => {
    const response = await deliver(CONNECTIONS_CLOSED_V1, { event: "alert.close" });
    expect(response.status).toBe(202);
    expect(await json(response)).toEqual({ status: "accepted", incident: null });
  });

  it("C: a closed CONNECTIONS_PERCENT alert is accepted", async () => {
    const response = await deliver(CONNECTIONS_PERCENT_CLOSED, { event: "alert.close" });
    expect(response.status).toBe(202);
    expect((await json<Outcome>(response)).status).toBe("accepted");
  });

  it("D: an M0 connections alert opens an incident for its cluster", async () => {
    const response = await deliver(M0_CONNECTIONS_OPEN);
    expect(response.status).toBe(202);
    const outcome = await json<Outcome>(response);
    expect(outcome.status).toBe("accepted");
    expect(outcome.incident).toMatch(/^66aa00000000000000000003-/);
    const detail = await incident(outcome.incident!);
    // The pipeline starts from the ledger's alarm right away, so the state may already have moved on.
    expect(detail.state).not.toBe("closed");
    expect(detail.cluster).toEqual({ groupId: "66aa00000000000000000003", name: "Cluster0" });
    expect(detail.alerts).toHaveLength(1);
    expect(detail.journal[0]).toMatchObject({ step: "intake", status: "opened" });
  });

  it("E: a Flex connections alert opens an incident", async () => {
    const outcome = await json<Outcome>(await deliver(FLEX_CONNECTIONS_OPEN));
    expect(outcome.status).toBe("accepted");
    expect((await incident(outcome.incident!)).cluster.name).toBe("FlexCluster");
  });
});

describe("what the spec makes optional", () => {
  it("accepts a currentValue without units", async () => {
    const response = await deliver(alertWith(M0_CONNECTIONS_OPEN, { currentValue: { number: 82.4 } }));
    expect(response.status).toBe(202);
    const outcome = await json<Outcome>(response);
    expect(outcome.status).toBe("accepted");
    // The missing units stay missing: never the text "null".
    const detail = (await incident(outcome.incident!)) as unknown as {
      alerts: Array<{ currentValue: unknown }>;
    };
    expect(detail.alerts.at(-1)!.currentValue).toEqual({ number: 82.4, units: null });
  });

  it("routes an alert without groupId to the project of its CLUSTERS entry", async () => {
    const { groupId: _omitted, ...body } = alertWith(M0_CONNECTIONS_OPEN, { clusterName: E2E.modes.notify });
    const response = await deliver(body);
    expect(response.status).toBe(202);
    const outcome = await json<Outcome>(response);
    expect(outcome.incident).toMatch(new RegExp(`^${E2E.modes.groupId}-`));
    expect((await incident(outcome.incident!)).cluster).toEqual({
      groupId: E2E.modes.groupId,
      name: E2E.modes.notify,
    });
    expect(logs.of("webhook.recorded")).toEqual([
      expect.objectContaining({ groupId: E2E.modes.groupId, routedBy: "cluster-name" }),
    ]);
  });

  it("refuses an alert without groupId that no CLUSTERS entry matches, naming groupId", async () => {
    const { groupId: _omitted, ...body } = alertWith(M0_CONNECTIONS_OPEN, {});
    const response = await deliver(body);
    expect(response.status).toBe(400);
    const answer = await json<{ error: string; issues: Array<{ path: string; message: string }> }>(response);
    expect(answer).toEqual({
      error: "invalid payload",
      issues: [{ path: "groupId", message: expect.stringContaining("CLUSTERS") }],
    });
  });
});

describe("intake order: size, content type, signature, JSON, schema", () => {
  /** A valid alert padded (through humanReadable) to exactly `bytes` bytes of JSON. */
  function alertOfSize(bytes: number): string {
    const base = JSON.stringify(alertWith(M0_CONNECTIONS_OPEN, { humanReadable: "" }));
    const padded = JSON.stringify(
      alertWith(M0_CONNECTIONS_OPEN, { humanReadable: "x".repeat(bytes - base.length) }),
    );
    expect(new TextEncoder().encode(padded).byteLength).toBe(bytes);
    return padded;
  }

  it("accepts a body of exactly 64 KiB", async () => {
    // humanReadable is capped at 8 KiB by the schema, so a 64 KiB body is valid only if padded elsewhere:
    // spaces between tokens are valid JSON and part of the signed bytes.
    const body = JSON.stringify(M0_CONNECTIONS_OPEN);
    const padded = `${body.slice(0, -1) + " ".repeat(65536 - body.length)}}`;
    expect(new TextEncoder().encode(padded).byteLength).toBe(65536);
    expect((await deliver(padded)).status).toBe(202);
  });

  it("refuses 64 KiB + 1 byte with 413, before looking at the signature", async () => {
    const body = alertOfSize(65537);
    const response = await deliver(body, { signature: null });
    expect(response.status).toBe(413);
    expect(await json(response)).toEqual({ error: "payload too large" });
  });

  it("refuses a declared non-JSON content type with 415, before the signature", async () => {
    const response = await deliver(M0_CONNECTIONS_OPEN, { contentType: "text/plain", signature: null });
    expect(response.status).toBe(415);
  });

  it("accepts JSON with parameters, +json types and a missing content type", async () => {
    for (const contentType of ["application/json; charset=utf-8", "application/vnd.atlas+json", null]) {
      const alert = alertWith(M0_CONNECTIONS_OPEN, {
        id: `66aa0000000000000000c0${contentType ? "1" : "2"}${contentType?.length ?? 0}`,
      });
      expect((await deliver(alert, { contentType })).status).toBe(202);
    }
  });

  it.each([
    ["a missing signature", { signature: null }, "signature missing"],
    ["a signature made with another secret", { secret: "not-the-secret" }, "signature mismatch"],
    ["a signature that is not base64", { signature: "%%%not base64%%%" }, "signature malformed"],
    ["a base64 value of the wrong length", { signature: "c2hvcnQ=" }, "signature malformed"],
    ["an empty signature", { signature: "" }, "signature missing"],
  ])("answers 401 invalid signature for %s", async (_name, options, reason) => {
    logs.expect("webhook.rejected");
    const response = await deliver(M0_CONNECTIONS_OPEN, options);
    expect(response.status).toBe(401);
    expect(await json(response)).toEqual({ error: "invalid signature" });
    expect(logs.of("webhook.rejected")).toEqual([expect.objectContaining({ level: "warn", reason })]);
  });

  it("answers 401 for a tampered body, and checks the signature before parsing", async () => {
    const body = JSON.stringify(M0_CONNECTIONS_OPEN);
    const { signAtlasBody } = await import("../../src/atlas/webhook-signature.ts");
    const { TEST_SECRETS } = await import("./bindings.ts");
    const signature = await signAtlasBody(body, TEST_SECRETS.ATLAS_WEBHOOK_SECRET);
    const tampered = body.replace("82.4", "12.4");
    logs.expect("webhook.rejected");
    expect((await deliver(tampered, { signature })).status).toBe(401);
    expect((await deliver("not json at all", { signature })).status).toBe(401);
    expect((await deliver(body, { signature })).status).toBe(202);
    expect(logs.of("webhook.rejected").map((l) => [l.level, l.reason, l.bytes])).toEqual([
      ["warn", "signature mismatch", new TextEncoder().encode(tampered).byteLength],
      ["warn", "signature mismatch", "not json at all".length],
    ]);
  });

  it("verifies unicode bodies byte for byte", async () => {
    const alert = alertWith(M0_CONNECTIONS_OPEN, {
      humanReadable: "Connexions élevées — 接続数が上限に近づいています 🚨 Project: Prøject",
      clusterName: "Clüster-Δ",
    });
    const outcome = await json<Outcome>(await deliver(alert));
    expect(outcome.status).toBe("accepted");
    expect((await incident(outcome.incident!)).cluster.name).toBe("Clüster-Δ");
  });

  it.each([
    ["an empty body", ""],
    ["a JSON syntax error", '{"id": '],
    ["an array", "[]"],
    ["null", "null"],
    ["a string", '"alert"'],
    ["a number", "42"],
    ["an empty object", "{}"],
  ])("answers 400 invalid payload for %s", async (_name, body) => {
    const response = await deliver(body);
    expect(response.status).toBe(400);
    const answer = await json<{ error: string; issues: Array<{ path: string; message: string }> }>(response);
    expect(answer.error).toBe("invalid payload");
    expect(answer.issues.length).toBeGreaterThan(0);
  });

  it("answers 400 for invalid UTF-8", async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    expect((await deliver(bytes)).status).toBe(400);
  });

  it("names each wrong field in the issues, without echoing values", async () => {
    const response = await deliver(
      alertWith(M0_CONNECTIONS_OPEN, {
        id: 12345,
        status: "MAYBE",
        updated: "yesterday",
        currentValue: { number: "eighty", units: "RAW" },
        groupId: "not-hex-SECRETISH",
      }),
    );
    expect(response.status).toBe(400);
    const text = await response.text();
    const { issues } = JSON.parse(text) as { issues: Array<{ path: string }> };
    expect(issues.map((i) => i.path).sort()).toEqual([
      "currentValue.number",
      "groupId",
      "id",
      "status",
      "updated",
    ]);
    expect(text).not.toContain("SECRETISH");
    expect(text).not.toContain("eighty");
  });

  it("is not polluted by __proto__ or constructor keys", async () => {
    const body = JSON.stringify(M0_CONNECTIONS_OPEN).replace(
      /^\{/,
      '{"__proto__":{"polluted":true,"status":"CLOSED"},"constructor":{"prototype":{"polluted":true}},',
    );
    const outcome = await json<Outcome>(await deliver(body));
    expect(outcome.status).toBe("accepted");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await incident(outcome.incident!)).alerts[0]!.status).toBe("OPEN");
  });
});

describe("dedupe, joining and closing", () => {
  it("turns 40 concurrent deliveries of one alert into 1 accepted, 39 duplicates and one incident", async () => {
    const responses = await Promise.all(Array.from({ length: 40 }, () => deliver(M0_CONNECTIONS_OPEN)));
    const outcomes = await Promise.all(responses.map((r) => json<Outcome>(r)));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    expect(outcomes.filter((o) => o.status === "accepted")).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === "duplicate")).toHaveLength(39);
    expect(new Set(outcomes.map((o) => o.incident)).size).toBe(1);
    const recorded = logs.of("webhook.recorded").map((l) => l.status);
    expect(recorded.filter((s) => s === "accepted")).toHaveLength(1);
    expect(recorded.filter((s) => s === "duplicate")).toHaveLength(39);
    const list = await json<{ incidents: unknown[] }>(await admin("/incidents"));
    expect(list.incidents).toHaveLength(1);
    expect((await incident(outcomes[0]!.incident!)).alerts).toHaveLength(1);
  });

  it("treats the same alert with another X-MMS-Event as a new delivery", async () => {
    const first = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN, { event: "alert.open" }));
    const second = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN, { event: "alert.update" }));
    expect(second).toEqual({ status: "accepted", incident: first.incident });
  });

  it("joins a re-notification and a second alert to the open incident; CLOSED of both closes it", async () => {
    const first = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN));
    const renotified = alertWith(M0_CONNECTIONS_OPEN, {
      updated: "2026-08-13T10:05:00Z",
      currentValue: { number: 88, units: "RAW" },
    });
    const second = alertWith(M0_CONNECTIONS_OPEN, {
      id: "66aa00000000000000000099",
      metricName: "CONNECTIONS",
      currentValue: { number: 431, units: "RAW" },
      updated: "2026-08-13T10:06:00Z",
    });
    expect(await json(await deliver(renotified, { event: "alert.update" }))).toEqual({
      status: "accepted",
      incident: first.incident,
    });
    expect(await json(await deliver(second))).toEqual({ status: "accepted", incident: first.incident });

    const closeFirst = alertWith(M0_CONNECTIONS_OPEN, {
      status: "CLOSED",
      updated: "2026-08-13T10:20:00Z",
      resolved: "2026-08-13T10:20:00Z",
    });
    expect(await json(await deliver(closeFirst, { event: "alert.close" }))).toEqual({
      status: "accepted",
      incident: first.incident,
    });
    expect((await incident(first.incident!)).state).not.toBe("closed");

    const closeSecond = alertWith(second, { status: "CLOSED", updated: "2026-08-13T10:21:00Z" });
    await deliver(closeSecond, { event: "alert.close" });
    const closed = await incident(first.incident!);
    expect(closed.state).toBe("closed");
    expect(closed.alerts).toHaveLength(5);
    const intake = closed.journal.filter(
      (j) => j.step === "intake" || (j.step === "incident" && j.status === "closed"),
    );
    expect(intake.map((j) => `${j.step}:${j.status}`)).toEqual([
      "intake:opened",
      "intake:joined",
      "intake:joined",
      "intake:alert-closed",
      "intake:alert-closed",
      "incident:closed",
    ]);

    // The next alert for the cluster opens a new incident.
    const again = alertWith(M0_CONNECTIONS_OPEN, {
      id: "66aa000000000000000000aa",
      updated: "2026-08-13T11:00:00Z",
    });
    const next = await json<Outcome>(await deliver(again));
    expect(next.incident).not.toBe(first.incident);
  });

  it("closes on alert.cancel and says so", async () => {
    const { incident: id } = await json<Outcome>(await deliver(FLEX_CONNECTIONS_OPEN));
    await deliver(
      alertWith(FLEX_CONNECTIONS_OPEN, { status: "CANCELLED", updated: "2026-08-13T10:01:00Z" }),
      {
        event: "alert.cancel",
      },
    );
    const detail = await incident(id!);
    expect(detail.state).toBe("closed");
    expect(detail.journal.find((j) => j.step === "incident" && j.status === "closed")).toMatchObject({
      detail: { reason: "Atlas cancelled the alert" },
    });
  });

  it("journals acknowledge and inform events without changing the incident", async () => {
    const { incident: id } = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN));
    const acked = alertWith(M0_CONNECTIONS_OPEN, { updated: "2026-08-13T10:02:00Z" });
    expect(await json(await deliver(acked, { event: "alert.acknowledge" }))).toEqual({
      status: "accepted",
      incident: id,
    });
    const detail = await incident(id!);
    expect(detail.state).not.toBe("closed");
    expect(detail.journal.filter((j) => j.step === "intake").at(-1)).toMatchObject({
      step: "intake",
      status: "noted",
    });
  });

  it("falls back to the payload's status when X-MMS-Event is missing", async () => {
    const { incident: id } = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN, { event: null }));
    expect(id).not.toBeNull();
    const closed = alertWith(M0_CONNECTIONS_OPEN, { status: "CLOSED", updated: "2026-08-13T10:09:00Z" });
    await deliver(closed, { event: null });
    expect((await incident(id!)).state).toBe("closed");
  });

  it("does not let an older delivery reopen an alert that has closed", async () => {
    const { incident: id } = await json<Outcome>(await deliver(M0_CONNECTIONS_OPEN));
    await deliver(alertWith(M0_CONNECTIONS_OPEN, { status: "CLOSED", updated: "2026-08-13T10:30:00Z" }), {
      event: "alert.close",
    });
    const late = alertWith(M0_CONNECTIONS_OPEN, { updated: "2026-08-13T10:10:00Z" });
    expect(await json(await deliver(late, { event: "alert.update" }))).toEqual({
      status: "accepted",
      incident: id,
    });
    const list = await json<{ incidents: Array<{ state: string }> }>(await admin("/incidents"));
    expect(list.incidents.map((i) => i.state)).toEqual(["closed"]);
  });

  it("keys alerts without a clusterName on their replica set", async () => {
    const alert = alertWith(M0_CONNECTIONS_OPEN, { clusterName: undefined });
    const { incident: id } = await json<Outcome>(await deliver(alert));
    expect((await incident(id!)).cluster.name).toBe("atlas-abc123-shard-0");
  });
});
