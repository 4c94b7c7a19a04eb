/**
 * `fix:connections` as a real process: against a fake MongoDB that a leaky app fills, a fake
 * webhook deploy target whose redeploy kills that app, a temporary state directory, and — for the
 * prompt — a real pseudo-terminal (`script -qec`). `--worker` runs against a small fake Worker.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { JournalRow } from "../../src/incident/journal.ts";
import {
  ADMIN_TOKEN,
  type FixFixture,
  GROUP_ID,
  startFixFixture,
} from "../support/fix-connections-fixture.ts";

let fx: FixFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

const stateFile = (f: FixFixture) => path.join(f.stateHome, "atlas-responder", "state.json");
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+[:(]\d+/);

describe("fix:connections, local", () => {
  it("--yes measures, plans, redeploys once, verifies and exits 0 with before → after", async () => {
    fx = await startFixFixture();
    const run = await fx.run(["--yes"]);
    expect(run.code, run.text).toBe(0);
    expect(run.text).toMatch(/measured\s+1[6-8] \/ 20 \(\d+\.\d %\)\s+tier M0/);
    expect(run.text).toMatch(/plan\s+redeploy web \(webhook\): Cluster0 at/);
    expect(run.text).toMatch(/call\s+POST webhook \(web\)/);
    expect(run.text).toMatch(/check 1\/2\s+\d \/ 20 .*recovered/);
    expect(run.text).toMatch(/resolved · 1[6-8] \/ 20 \(\d+\.\d %\) → \d \/ 20/);
    expect(fx.redeploys()).toBe(1);
    expect(run.text).not.toContain(new URL(fx.hookUrl).pathname);
    expect(run.text).not.toContain("\x1b[");
    noStack(run.text);

    const file = stateFile(fx);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const state = JSON.parse(readFileSync(file, "utf8"));
    expect(state.budget).toEqual([expect.objectContaining({ target: "web", outcome: "started" })]);
    expect(state.store.incidents[0]).toMatchObject({ state: "closed" });
  }, 40_000);

  it("a second run inside the cooldown sends nothing and says why", async () => {
    fx = await startFixFixture();
    expect((await fx.run(["--yes"])).code).toBe(0);
    await fx.leak();
    const second = await fx.run(["--yes"]);
    expect(second.code, second.text).toBe(1);
    expect(second.text).toMatch(/web is blocked by the cooldown until \d{4}-\d\d-\d\dT/);
    expect(second.text).toMatch(/nothing was sent: web is blocked by the cooldown until/);
    expect(fx.redeploys()).toBe(1);
  }, 60_000);

  it("--dry-run prints the call it would make and sends nothing, without a TTY or --yes", async () => {
    fx = await startFixFixture();
    const run = await fx.run(["--dry-run"]);
    expect(run.code, run.text).toBe(0);
    expect(run.text).toMatch(/would call\s+POST webhook \(web\) {2}\(web\)/);
    expect(run.text).toContain("dry run: nothing was sent");
    expect(fx.redeploys()).toBe(0);
    expect(fx.platforms.calls()).toHaveLength(0);
  }, 30_000);

  it("asks on a real terminal: yes redeploys, with colour", async () => {
    fx = await startFixFixture();
    const run = await fx.runPty([], "y");
    expect(run.code, run.text).toBe(0);
    expect(run.text).toContain("Redeploy web? [y/N]");
    expect(run.text.indexOf("call       POST webhook (web)")).toBeLessThan(run.text.indexOf("Redeploy web?"));
    expect(run.stdout).toContain("\x1b[");
    expect(run.text).toMatch(/approved\s+by \S+ \(cli\)/);
    expect(fx.redeploys()).toBe(1);
  }, 40_000);

  it("asks on a real terminal: no sends nothing and exits 1", async () => {
    fx = await startFixFixture();
    const run = await fx.runPty(["--cluster", "Cluster0"], "n");
    expect(run.code, run.text).toBe(1);
    expect(run.text).toContain("Redeploy web? [y/N]");
    expect(run.text).toContain("nothing was sent");
    expect(fx.redeploys()).toBe(0);
  }, 30_000);

  it("NO_COLOR keeps a terminal's output plain", async () => {
    fx = await startFixFixture();
    const run = await fx.runPty(["--dry-run"], "", { prompt: /never/, env: { NO_COLOR: "1" } });
    expect(run.code, run.text).toBe(0);
    expect(run.text).toContain("would call");
    expect(run.stdout).not.toContain("\x1b[");
  }, 30_000);

  it("without a TTY and without --yes exits 2 saying --yes is needed", async () => {
    fx = await startFixFixture();
    const run = await fx.run([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--yes");
    expect(fx.platforms.calls()).toHaveLength(0);
  }, 20_000);

  it("an action journaled as sending by a killed run is reported unknown, never sent again", async () => {
    fx = await startFixFixture();
    fx.platforms.failNext("webhook", "timeout", { target: "web" });
    // Killed once the state file holds the action as sending: the hook has the request, no answer came.
    const file = stateFile(fx);
    const killed = await fx.run(["--yes"], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          try {
            const saved = JSON.parse(readFileSync(file, "utf8"));
            if (saved.store.actions.some((a: { status: string }) => a.status === "sending")) {
              clearInterval(timer);
              setTimeout(() => child.kill("SIGKILL"), 200);
            }
          } catch {
            // not written yet
          }
        }, 50);
        child.once("exit", () => clearInterval(timer));
      },
    });
    expect(killed.code).toBeNull();
    expect(fx.platforms.calls({ target: "web" })).toHaveLength(1);
    const state = JSON.parse(readFileSync(stateFile(fx), "utf8"));
    expect(state.store.actions).toEqual([expect.objectContaining({ status: "sending" })]);

    const next = await fx.run(["--yes"]);
    expect(next.code, next.text).toBe(1);
    expect(next.text).toMatch(
      /unknown\s+web: the responder stopped between sending the call and recording its answer/,
    );
    expect(next.text).toMatch(/escalated/);
    expect(fx.platforms.calls({ target: "web" })).toHaveLength(1);
  }, 40_000);

  it("a corrupt state file is an error naming the file, exit 2, no stack trace", async () => {
    fx = await startFixFixture();
    mkdirSync(path.dirname(stateFile(fx)), { recursive: true });
    writeFileSync(stateFile(fx), "{not json");
    const run = await fx.run(["--yes"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(stateFile(fx));
    noStack(run.text);
    expect(fx.platforms.calls()).toHaveLength(0);
  }, 20_000);

  it.each([
    [["--bogus"]],
    [["extra"]],
    [["--worker", "ftp://example.test"]],
    [["--cluster", "Nope", "--yes"]],
    [["--cluster"]],
  ])(
    "usage errors exit 2 with the usage and no stack trace: %j",
    async (args) => {
      fx = await startFixFixture();
      const run = await fx.run(args);
      expect(run.code, run.text).toBe(2);
      expect(run.stderr).toContain("usage: npm run fix:connections");
      noStack(run.text);
    },
    20_000,
  );

  it("--help prints the usage and exits 0", async () => {
    fx = await startFixFixture();
    const run = await fx.run(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "usage: npm run fix:connections -- [--cluster NAME] [--dry-run] [--yes] [--worker URL]",
    );
  }, 20_000);

  it("with several clusters configured, --cluster is required and the error lists them", async () => {
    fx = await startFixFixture({
      devVars: {
        CLUSTERS: JSON.stringify([
          { groupId: GROUP_ID, name: "Cluster0" },
          { groupId: GROUP_ID, name: "Staging" },
        ]),
      },
    });
    const run = await fx.run(["--yes"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("CLUSTERS lists Cluster0, Staging");
  }, 20_000);
});

/** A small stand-in for the Worker: `/trigger` and `/incidents/:id` as DESIGN §3 has them. */
async function startFakeWorker(states: string[]) {
  const requests: Array<{ method: string; path: string; auth: string | undefined; body: string }> = [];
  const id = `${GROUP_ID}-0000000000abcdef`;
  const at = "2030-01-01T00:00:00.000Z";
  const figures = { tier: "M0", limit: 20, byApp: [], sources: [{ name: "mongodb", ok: true, error: null }] };
  const journalFor = (state: string) => {
    const rows: JournalRow[] = [
      { at, step: "trigger", status: "opened", detail: { reason: "fix:connections", dryRun: false } },
      { at, step: "stats", status: "ok", detail: { ...figures, current: 18, percent: 90 } },
      {
        at,
        step: "plan",
        status: "redeploy",
        detail: { target: "web", kind: "webhook", reason: "Cluster0 at 90 %", culprits: [] },
      },
      {
        at,
        step: "approval",
        status: "requested",
        detail: { target: "web", kind: "webhook", reason: "x", culprits: [] },
      },
    ];
    if (state === "awaiting-approval") return rows;
    rows.push(
      { at, step: "approval", status: "approved", detail: { by: "U123", source: "slack" } },
      {
        at,
        step: "action",
        status: "sending",
        detail: {
          target: "web",
          kind: "webhook",
          action: "redeploy",
          method: "POST",
          endpoint: "webhook (web)",
          attempt: 1,
        },
      },
      {
        at,
        step: "action",
        status: "started",
        detail: { target: "web", platform: "webhook", detail: "accepted" },
      },
    );
    if (state === "verifying") return rows;
    rows.push(
      {
        at,
        step: "verify",
        status: "recovered",
        detail: { check: 1, of: 2, ...figures, current: 2, percent: 10 },
      },
      {
        at,
        step: "incident",
        status: "resolved",
        detail: {
          before: { current: 18, percent: 90 },
          after: { current: 2, percent: 10 },
          note: "connections came down after the action",
        },
      },
    );
    return rows;
  };
  let polls = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", auth: req.headers.authorization, body });
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) return send(401, { error: "unauthorized" });
      if (req.method === "POST" && req.url === "/trigger") return send(202, { incident: id });
      if (req.method === "GET" && req.url === `/incidents/${id}`) {
        const state = states[Math.min(polls++, states.length - 1)]!;
        return send(200, {
          id,
          cluster: { groupId: GROUP_ID, name: "Cluster0" },
          state,
          alerts: [],
          journal: journalFor(state),
        });
      }
      send(404, { error: "not found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("fix:connections --worker", () => {
  it("asks before /trigger: answered no, nothing is requested", async () => {
    fx = await startFixFixture();
    const worker = await startFakeWorker(["resolved"]);
    try {
      const run = await fx.runPty(["--worker", worker.url], "n");
      expect(run.code, run.text).toBe(1);
      expect(run.text).toContain("Ask the Worker to fix Cluster0? [y/N]");
      expect(run.text).toContain("nothing was sent");
      expect(worker.requests).toHaveLength(0);
    } finally {
      await worker.close();
    }
  }, 30_000);

  it("answered yes on a terminal, triggers and follows the incident", async () => {
    fx = await startFixFixture();
    const worker = await startFakeWorker(["verifying", "resolved"]);
    try {
      const run = await fx.runPty(["--worker", worker.url], "y");
      expect(run.code, run.text).toBe(0);
      expect(worker.requests[0]).toMatchObject({ method: "POST", path: "/trigger" });
      expect(run.text.indexOf("[y/N]")).toBeLessThan(run.text.indexOf("incident 5e5a"));
    } finally {
      await worker.close();
    }
  }, 30_000);

  it("--yes triggers with the contract's body, says where to approve, and follows to resolved", async () => {
    fx = await startFixFixture();
    const worker = await startFakeWorker(["awaiting-approval", "awaiting-approval", "verifying", "resolved"]);
    try {
      const run = await fx.run(["--worker", worker.url, "--yes"]);
      expect(run.code, run.text).toBe(0);
      const [trigger, ...reads] = worker.requests;
      expect(trigger).toMatchObject({ method: "POST", path: "/trigger", auth: `Bearer ${ADMIN_TOKEN}` });
      expect(JSON.parse(trigger!.body)).toEqual({
        groupId: GROUP_ID,
        cluster: "Cluster0",
        reason: "fix:connections",
      });
      expect(reads.length).toBeGreaterThanOrEqual(4);
      expect(reads.every((r) => r.method === "GET" && r.path.startsWith("/incidents/"))).toBe(true);
      expect(run.text.match(/awaiting approval: approve it in Slack/g)).toHaveLength(1);
      expect(run.text).toMatch(/sending\s+POST webhook \(web\)/);
      expect(run.text).toMatch(/resolved\s+18 \(90\.0 %\) → 2 \(10\.0 %\)/);
      expect(run.text).toContain("resolved · 18 / 20 (90.0 %) → 2 / 20 (10.0 %)");
      expect(run.text).not.toContain(ADMIN_TOKEN);
      // Nothing was acted on locally: the Worker did it.
      expect(fx.platforms.calls()).toHaveLength(0);
    } finally {
      await worker.close();
    }
  }, 30_000);

  it("a refused ADMIN_TOKEN is a configuration error, exit 2", async () => {
    fx = await startFixFixture({ devVars: { ADMIN_TOKEN: "some-other-admin-token-xyz" } });
    const worker = await startFakeWorker(["resolved"]);
    try {
      const run = await fx.run(["--worker", worker.url, "--yes"]);
      expect(run.code, run.text).toBe(2);
      expect(run.stderr).toContain("refused ADMIN_TOKEN");
      expect(run.text).not.toContain("some-other-admin-token-xyz");
    } finally {
      await worker.close();
    }
  }, 30_000);
});
