/**
 * The dashboard in a real headless Chromium against the Worker under `wrangler dev`: log in, see
 * the cluster, open the incident awaiting approval, approve it, and see the redeploy and the
 * recovery in its timeline. Screenshots go to test-output/ (ignored by git).
 *
 * Without Chromium at /usr/bin/chromium the file skips with one line saying how to install it;
 * with CI=true a missing browser fails the run.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER, startWorld, type World } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = join(process.cwd(), "test-output");
const present = existsSync(CHROMIUM);

if (!present && process.env.CI === "true") {
  throw new Error(`Chromium is missing at ${CHROMIUM}: install it with apt-get install chromium`);
}
if (!present)
  console.log(`browser tests skipped: no ${CHROMIUM} (install it with: apt-get install chromium)`);

describe.skipIf(!present)("the dashboard in Chromium", () => {
  let world: World;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let incidentId: string;

  beforeAll(async () => {
    await mkdir(OUTPUT, { recursive: true });
    world = await startWorld();
    // Two runs of the cron watch: the chart has samples to draw.
    await world.tick();
    await world.tick();
    // An incident awaiting approval: the cluster is at 430 of 500 connections, in approve mode.
    incidentId = await world.alert(86);
    const deadline = Date.now() + 30_000;
    while ((await world.incident(incidentId)).state !== "awaiting-approval") {
      if (Date.now() > deadline) throw new Error("the incident never awaited approval");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    profile = await mkdtemp(join(tmpdir(), "responder-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await world?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  }, 60_000);

  it("1. sends a visitor without a login to the form, and logs in with the admin token", async () => {
    await page.goto(`${world.base}/`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.getByLabel("Admin token").fill("wrong-token-for-the-browser");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not the admin token");
    expect((await context.cookies()).filter((c) => c.name === "responder_session")).toHaveLength(0);
    await page.getByLabel("Admin token").fill(world.adminToken);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${world.base}/`);
    const [cookie] = (await context.cookies()).filter((c) => c.name === "responder_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });
    // HttpOnly: page script cannot read it.
    expect(String(await page.evaluate("document.cookie"))).not.toContain("responder_session");
  });

  it("2. shows the cluster with its gauge, chart and the incident", async () => {
    const card = page.locator("section.card", { has: page.getByRole("heading", { name: CLUSTER.name }) });
    await expect.poll(() => card.count()).toBe(1);
    const text = (await card.textContent()) ?? "";
    expect(text).toMatch(/\d+ \/ 500 · \d+ %/);
    expect(text).toContain("over threshold");
    expect(await card.locator("figure.chart svg").count()).toBe(1);
    // The watch's samples are drawn as a line, not "no readings".
    await expect.poll(() => card.locator("figure.chart polyline.line").count()).toBeGreaterThan(0);
    expect(await card.locator("meter").count()).toBe(1);
    // The stylesheet loaded under the CSP (no inline style): the header is dark.
    const background = await page
      .locator("header.top")
      .evaluate(
        (el) =>
          (
            globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
          ).getComputedStyle(el).backgroundColor,
      );
    expect(background).toBe("rgb(36, 41, 47)");
    await page.screenshot({ path: join(OUTPUT, "dashboard-overview.png"), fullPage: true });
  });

  it("3. opens the incident awaiting approval", async () => {
    await page
      .getByRole("region", { name: "Awaiting approval" })
      .getByRole("link", { name: CLUSTER.name })
      .click();
    await page.waitForURL(`${world.base}/ui/incidents/${incidentId}`);
    expect(await page.locator("h1 .badge").textContent()).toBe("Awaiting approval");
    expect(await page.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
    expect(await page.locator("main").textContent()).toContain(`Redeploy ${CLUSTER.target}`);
  });

  it("4. approves it", async () => {
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/\?done=approve$/);
    expect(await page.getByRole("status").textContent()).toContain("Approved");
    const journal = (await world.incident(incidentId)).journal;
    expect(journal.some((e) => e.step === "approval" && e.status === "approved")).toBe(true);
  });

  it("5. shows the redeploy and the recovery in the timeline", async () => {
    const deadline = Date.now() + 45_000;
    for (;;) {
      await page.goto(`${world.base}/ui/incidents/${incidentId}`);
      const badge = await page.locator("h1 .badge").textContent();
      if (badge === "Resolved") break;
      if (Date.now() > deadline) throw new Error(`the incident is still ${badge}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const actions = (await page.getByRole("region", { name: "Actions" }).textContent()) ?? "";
    expect(actions).toContain(CLUSTER.target);
    expect(actions).toContain("started");
    // One row per call: the call sent, folded into its outcome, with the endpoint as journaled
    // (every secret part replaced by the target's name).
    expect(await page.getByRole("region", { name: "Actions" }).locator("tbody tr").count()).toBe(1);
    expect(actions).toContain(`POST vercel deploy hook (${CLUSTER.target})`);
    const timeline = (await page.getByRole("region", { name: "Timeline" }).textContent()) ?? "";
    expect(timeline).toMatch(/approval\s*approved\s*by dashboard/);
    expect(timeline).toMatch(/action\s*started/);
    expect(timeline).toMatch(/verify\s*recovered/);
    expect(timeline).toMatch(/incident\s*resolved/);
    expect(world.leakRunning()).toBe(false);
    await page.screenshot({ path: join(OUTPUT, "dashboard-incident.png"), fullPage: true });
  });
});
