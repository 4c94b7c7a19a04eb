/**
 * `fix:connections --worker URL`: the same run, done by a deployed Worker so its cooldowns and
 * hourly budget are the ones that count. Asks first, then `POST /trigger` (Bearer ADMIN_TOKEN) and
 * follows `GET /incidents/:id` to its end, printing the journal as the local run does. The Worker
 * acts under its own mode: when it waits for approval, this says where to give it and keeps
 * following.
 */

import type { Config } from "../config/schema.ts";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import type { JournalRow } from "../incident/journal.ts";
import { createNodeFetch } from "../outbound/node-fetch.ts";
import { type FixOptions, TRIGGER_REASON } from "./fix-local.ts";
import { beforeAfter, describeRow, ending, runRows } from "./fix-report.ts";
import type { Terminal } from "./fix-terminal.ts";

/** How often the incident is read while it runs. */
const POLL_MS = 1000;
/** Consecutive failed reads before giving up on following. */
const MAX_READ_FAILURES = 5;

interface IncidentView {
  id: string;
  state: string;
  journal: JournalRow[];
}

export async function fixThroughWorker(
  options: FixOptions & { worker: URL },
  config: Config,
  term: Terminal,
): Promise<number> {
  const token = config.adminToken;
  if (!token) {
    term.err("ADMIN_TOKEN is required for --worker (set it in .dev.vars or the environment)");
    return 2;
  }
  const { groupId, name: cluster } = options.cluster;
  const origin = options.worker.origin;
  const base = options.worker.href.replace(/\/+$/, "");
  const scrub = (text: string) => text.split(token).join("[redacted]");
  term.out(term.paint.bold(`fix:connections · ${cluster} · project ${groupId} · through ${origin}`));
  term.out(
    `the Worker measures ${cluster} and acts under its own mode and policy; cooldowns and the hourly budget are shared`,
  );
  if (!options.dryRun) {
    let yes = options.yes;
    if (yes) term.out(term.paint.dim(`Ask the Worker to fix ${cluster}? [y/N] yes (--yes)`));
    else yes = await term.confirm(`Ask the Worker to fix ${cluster}? [y/N]`);
    if (!yes) {
      term.out(term.paint.warn("nothing was sent"));
      return 1;
    }
  }

  const http = createNodeFetch();
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  try {
    let response: Response;
    try {
      response = await http.fetch(`${base}/trigger`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          groupId,
          cluster,
          reason: TRIGGER_REASON,
          ...(options.dryRun ? { dryRun: true } : {}),
        }),
        signal: AbortSignal.timeout(DEFAULT_HTTP_TIMEOUT_MS),
      });
    } catch (error) {
      term.err(
        `could not reach ${origin}: ${(error as Error).name === "TimeoutError" ? "timed out" : scrub((error as Error).message)}`,
      );
      return 1;
    }
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      term.err(`${origin} refused ADMIN_TOKEN (${response.status})`);
      return 2;
    }
    let incident: unknown;
    try {
      incident = (JSON.parse(text) as { incident?: unknown }).incident;
    } catch {
      incident = undefined;
    }
    if (response.status !== 202 || typeof incident !== "string") {
      term.err(`${origin} did not start a run: ${response.status} ${scrub(text).slice(0, 300)}`);
      return 1;
    }
    const id = incident;
    const url = `${base}/incidents/${encodeURIComponent(id)}`;
    term.out(term.paint.dim(`incident ${id} · ${url}`));

    let printed = 0;
    let failures = 0;
    let toldApproval = false;
    for (;;) {
      let view: IncidentView | null = null;
      try {
        const answer = await http.fetch(url, {
          headers,
          signal: AbortSignal.timeout(DEFAULT_HTTP_TIMEOUT_MS),
        });
        if (answer.ok) {
          const json = (await answer.json()) as IncidentView;
          if (typeof json?.state === "string" && Array.isArray(json.journal)) view = json;
        } else await answer.body?.cancel();
      } catch {
        view = null;
      }
      if (!view) {
        if (++failures >= MAX_READ_FAILURES) {
          term.err(`could not read ${url}; the Worker carries on, follow it there`);
          return 1;
        }
      } else {
        failures = 0;
        const rows = runRows(view.journal);
        for (const row of rows.slice(printed))
          for (const line of describeRow(row, term.paint)) term.out(line);
        printed = rows.length;
        if (view.state === "awaiting-approval" && !toldApproval) {
          toldApproval = true;
          term.out(
            term.paint.warn(
              `awaiting approval: approve it in Slack (the incident's message) or through ${origin}; following ${url}`,
            ),
          );
        }
        if (view.state !== "awaiting-approval") toldApproval = false;
        const end = ending(view.state, rows, view.state === "open");
        if (end.done) {
          const figures = beforeAfter(rows);
          const paint = end.code === 0 ? term.paint.good : term.paint.bad;
          term.out("");
          term.out(paint(`${end.summary}${figures ? ` · ${figures}` : ""}`));
          return end.code;
        }
      }
      // A redrawn line on a TTY; elsewhere only state changes are printed (the journal lines).
      if (term.interactive)
        await term.wait(Date.now() + POLL_MS, `following incident ${id}${view ? ` (${view.state})` : ""}`);
      else await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await http.close();
  }
}
