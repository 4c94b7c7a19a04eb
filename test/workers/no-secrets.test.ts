/**
 * No secret ever reaches a response body or a log line. Every kind of request — good, bad, refused —
 * is sent while console output is captured, then both are searched for each secret value.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { admin, deliver } from "./support.ts";

const lines: string[] = [];

beforeEach(() => {
  lines.length = 0;
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("secrets", () => {
  it("never appear in bodies or logs, whatever the request", async () => {
    const bodies: string[] = [];
    const keep = async (response: Response) => bodies.push(`${response.status} ${await response.text()}`);

    await keep(await deliver(M0_CONNECTIONS_OPEN));
    await keep(await deliver(M0_CONNECTIONS_OPEN, { secret: "wrong" }));
    await keep(await deliver(M0_CONNECTIONS_OPEN, { signature: null }));
    await keep(await deliver("{", {}));
    await keep(await deliver(alertWith(M0_CONNECTIONS_OPEN, { id: TEST_SECRETS.ADMIN_TOKEN })));
    await keep(await admin("/incidents", {}, "wrong-token-0123456789"));
    await keep(await admin("/incidents", {}, TEST_SECRETS.ATLAS_WEBHOOK_SECRET));
    await keep(await admin("/incidents"));
    await keep(
      await admin("/trigger", { method: "POST", body: JSON.stringify({ reason: TEST_SECRETS.ADMIN_TOKEN }) }),
    );

    expect(bodies.length).toBe(9);
    expect(lines.length).toBeGreaterThan(0); // the rejections above are logged
    for (const secret of Object.values(TEST_SECRETS)) {
      for (const text of [...bodies, ...lines]) expect(text).not.toContain(secret);
    }
    expect(lines.some((l) => l.includes("signature mismatch"))).toBe(true);
    expect(lines.some((l) => l.includes("wrong token"))).toBe(true);
  });
});
