/**
 * `fix:connections` run locally: the incident core itself, in Node, with the same policy as the
 * Worker — open (or join) the cluster's incident with `applyTrigger`, advance it step by step,
 * stop at the approval the CLI always asks for, then follow it through the action and its
 * verification to resolved, escalated or at rest.
 *
 * The store and the action budget live in the state file (./local-state.ts), saved after every
 * transaction, so a run killed at any point leaves a file the next run continues from: an action
 * journaled `sending` is found and reported unknown by the core, never sent again.
 *
 * Only this run's incident is advanced (the core's `runIncident`): other
 * clusters' incidents in the file wait for their own run, so nothing is sent that was not asked.
 */
import os from "node:os";
import type { ClusterConfig, Config, Target } from "../config/schema.ts";
import { MAX_STEPS_PER_RUN, runIncident } from "../incident/advance.ts";
import { applyDecision } from "../incident/approval.ts";
import { actionRequest } from "../incident/decide.ts";
import type { CoreDeps, StepContext } from "../incident/deps.ts";
import { newIncidentId } from "../incident/ids.ts";
import { applyTrigger } from "../incident/intake.ts";
import type { IncidentRecord } from "../incident/record.ts";
import { createNodeFetch } from "../outbound/node-fetch.ts";
import { beforeAfter, describeRow, ending, runRows } from "./fix-report.ts";
import type { Terminal } from "./fix-terminal.ts";
import { openLocalState, stateFilePath } from "./local-state.ts";
import { createNodeDeps, createQuietLogger } from "./node-deps.ts";

export interface FixOptions {
  cluster: ClusterConfig;
  dryRun: boolean;
  yes: boolean;
}

export const TRIGGER_REASON = "fix:connections";

/** Who approves from this machine: the OS user. */
export function osUser(env: Record<string, unknown>): string {
  try {
    return os.userInfo().username;
  } catch {
    return typeof env.USER === "string" && env.USER ? env.USER : "cli";
  }
}

export async function fixLocal(
  options: FixOptions,
  config: Config,
  env: Record<string, unknown>,
  term: Terminal,
): Promise<number> {
  const session = openLocalState(stateFilePath(env));
  const { store } = session;
  const { groupId, name: cluster } = options.cluster;
  const http = createNodeFetch();
  try {
    // The CLI always asks before acting, whatever the configured mode: a dry-run trigger still
    // wins (the incident's own mode comes first in the core).
    const deps: CoreDeps = createNodeDeps({
      // The person at this terminal is the approver, whatever Slack or ADMIN_TOKEN say.
      config: { ...config, modeFor: () => "approve", canApprove: true },
      fetch: http.fetch,
      limiter: session.limiter,
      log: createQuietLogger(config.secrets, term.err),
    });
    const ctx: StepContext = { groupId, store, deps };

    const id = store.transaction(() => {
      const now = deps.now();
      const { incident } = applyTrigger(
        store,
        { groupId, cluster, dryRun: options.dryRun, reason: TRIGGER_REASON },
        now,
        newIncidentId,
      );
      return incident;
    });

    term.out(term.paint.bold(`fix:connections · ${cluster} · project ${groupId} · incident ${id}`));
    let printed = 0;
    const print = () => {
      const rows = runRows(store.entries(id));
      for (const row of rows.slice(printed)) for (const line of describeRow(row, term.paint)) term.out(line);
      printed = rows.length;
    };

    for (;;) {
      // So many phases with no wait between them is a loop, not progress.
      if ((await runIncident(ctx, id, print)) >= MAX_STEPS_PER_RUN)
        throw new Error("the incident did not settle; stopping");
      const incident = store.incident(id)!;
      print();

      if (incident.phase === "approval") {
        const approved = await ask(options, deps, incident, term);
        const decision = approved ? "approve" : "skip";
        store.transaction(() =>
          applyDecision(store, id, { decision, by: osUser(env), source: "cli" }, deps.now()),
        );
        print();
        if (!approved) {
          term.out(term.paint.warn("nothing was sent"));
          return 1;
        }
        continue;
      }

      const waiting = incident.phase === "gather" && incident.failures === 0;
      const resting = incident.nextRunAt === null || waiting;
      const end = ending(incident.state, runRows(store.entries(id)), resting);
      if (end.done || resting) {
        const rows = runRows(store.entries(id));
        const figures = beforeAfter(rows);
        const summary = end.done ? end.summary : "stopped without resolving";
        const code = end.done ? end.code : 1;
        const paint = code === 0 ? term.paint.good : term.paint.bad;
        term.out("");
        term.out(paint(`${summary}${figures ? ` · ${figures}` : ""}`));
        term.out(term.paint.dim(`state: ${session.file}`));
        return code;
      }
      await term.wait(incident.nextRunAt!, waitLabel(incident, config));
    }
  } finally {
    await http.close();
  }
}

function waitLabel(incident: IncidentRecord, config: Config): string {
  if (incident.failures > 0) return "retrying";
  if (incident.phase === "verify") {
    return `verification check ${incident.checksDone + 1} of ${config.policy.verifyAfterSeconds.length}`;
  }
  if (incident.phase === "act") return "checking the running deploy again";
  return "next step";
}

/** Shows the call the approved plan will make and asks; `--yes` answers for the person. */
async function ask(
  options: FixOptions,
  deps: CoreDeps,
  incident: IncidentRecord,
  term: Terminal,
): Promise<boolean> {
  const decision = incident.decision;
  let question: string;
  if (decision?.kind === "redeploy") {
    const target: Target | undefined = deps.config.targets.find((t) => t.name === decision.target);
    if (target) {
      const call = deps.adapter(target).plan(actionRequest(incident.id, target.name, 1, decision.reason));
      term.out(`${"call".padEnd(11)}${call.method} ${call.endpoint}`);
    }
    question = `Redeploy ${decision.target}? [y/N]`;
  } else {
    term.out(`${"call".padEnd(11)}POST Atlas Admin API restartPrimaries (${incident.clusterName})`);
    question = `Run Test Failover on ${incident.clusterName}? It drops every connection. [y/N]`;
  }
  if (options.yes) {
    term.out(term.paint.dim(`${question} yes (--yes)`));
    return true;
  }
  return term.confirm(question);
}
