/** @jsxImportSource hono/jsx */
/**
 * `GET /ui/incidents/:id`: one incident from its typed journal — figures before → after, the plan,
 * the approval (with Approve / Skip / Snooze while a request is pending, ./actions.tsx), each action
 * with its outcome and its sanitized endpoint (the journal stores it with every secret part already
 * replaced), verification, prevention advice, the alerts, and the whole timeline.
 *
 * The journal is read the way the Slack message reads it (src/slack/journal-view.ts: `readingOf`,
 * `detailOf`, `readPlan`, …), without its Slack markup: text goes through JSX, which escapes it.
 */
import type { Context } from "hono";
import { parseIncidentId } from "../../incident/ids.ts";
import { type PlanView, readPlan } from "../../incident/journal.ts";
import type { IncidentDetail, JournalEntry } from "../../incident/view.ts";
import {
  type Detail,
  detailOf,
  isRecord,
  lastOf,
  list,
  num,
  type Reading,
  readingOf,
  str,
} from "../../slack/journal-view.ts";
import { DecisionForm } from "./actions.tsx";
import type { DashboardEnv } from "./env.ts";
import { clock, int, percent, STATE_LABEL, stateClass, utc } from "./format.ts";
import { Layout } from "./layout.tsx";

const DECISIONS = new Set(["approved", "skipped", "snoozed"]);

/** The approval request still waiting for a decision, if any. */
export function pendingRequest(incident: IncidentDetail): JournalEntry | undefined {
  if (incident.state !== "awaiting-approval") return undefined;
  const journal = incident.journal;
  const index = journal.findLastIndex((e) => e.step === "approval" && e.status === "requested");
  if (index < 0) return undefined;
  const decided = journal.some((e, i) => i > index && e.step === "approval" && DECISIONS.has(e.status));
  return decided ? undefined : journal[index];
}

const figures = (current?: number, limit?: number, pct?: number) =>
  current === undefined
    ? "?"
    : `${limit === undefined ? int(current) : `${int(current)} / ${int(limit)}`}${pct === undefined ? "" : ` (${percent(pct)})`}`;

function side(d: unknown): string {
  const s: Detail = isRecord(d) ? d : {};
  return figures(num(s, "current"), num(s, "limit"), num(s, "percent"));
}

/** Before → after: the resolution's own figures, else the first and the latest reading. */
function beforeAfter(journal: readonly JournalEntry[]): { before: string; after: string } | null {
  const resolved = lastOf(journal, "incident");
  if (resolved?.status === "resolved") {
    const d = detailOf(resolved);
    return { before: side(d.before), after: side(d.after) };
  }
  const readings = journal.map(readingOf).filter((r): r is Reading => r !== null);
  if (readings.length === 0) return null;
  const show = (r: Reading) => figures(r.current, r.limit, r.percent);
  return {
    before: show(readings[0]!),
    after: readings.length > 1 ? show(readings.at(-1)!) : "not measured yet",
  };
}

/** The plan as one sentence, plain text. */
export function planText(plan: PlanView): string {
  const because = "reason" in plan && plan.reason ? ` — ${plan.reason}` : "";
  switch (plan.kind) {
    case "redeploy":
      return `Redeploy ${plan.target ?? "?"}${plan.platform ? ` (${plan.platform})` : ""}${because}.${
        plan.culprits.length ? ` Culprits: ${plan.culprits.join(", ")}.` : ""
      }`;
    case "failover":
      return `Test failover of the primary (drops every connection)${because}.`;
    case "below-threshold":
      return `No action: ${plan.percent === undefined ? "usage" : percent(plan.percent)} is below the ${
        plan.threshold === undefined ? "action" : percent(plan.threshold)
      } threshold.`;
    case "blocked":
      return `Blocked: ${plan.target ?? "?"} is held by ${
        plan.reason === "hourly-cap"
          ? "the hourly action cap"
          : plan.reason === "cooldown"
            ? "its cooldown"
            : (plan.reason ?? "policy")
      }${plan.until ? ` until ${utc(plan.until)}` : ""}.`;
    case "snoozed":
      return `Snoozed${plan.until ? ` until ${utc(plan.until)}` : ""}.`;
    case "unknown-outcome":
      return `A previous action on ${plan.target ?? "?"} has an unknown outcome: a human must check it before anything else is fired.`;
    case "exhausted":
      return `Everything the policy allows has been tried${plan.tried.length ? `: ${plan.tried.join(", ")}` : ""}.`;
    case "no-targets":
      return `No redeploy target owns this cluster${because}.`;
    case "cannot-measure":
      return `Cannot measure connections right now${because}.`;
    case "other":
      return `${plan.status}${because}.`;
  }
}

interface ActionRow {
  at: string;
  status: string;
  action?: string;
  target?: string;
  platform?: string;
  method?: string;
  endpoint?: string;
  detail?: string;
  deployId?: string;
}

/** Action entries, each `sending` folded into the outcome that followed it (keeping its endpoint). */
export function actionRows(journal: readonly JournalEntry[]): ActionRow[] {
  const rows: { row: ActionRow }[] = [];
  for (const entry of journal) {
    if (entry.step !== "action") continue;
    const d = detailOf(entry);
    const row: ActionRow = {
      at: entry.at,
      status: entry.status,
      action: str(d, "action"),
      target: str(d, "target"),
      platform: str(d, "kind") ?? str(d, "platform"),
      method: str(d, "method"),
      endpoint: str(d, "endpoint"),
      detail: str(d, "detail"),
      deployId: str(d, "deployId"),
    };
    if (entry.status === "killop") {
      const count = (k: string) => list(d, k).length;
      row.action = "kill operations";
      row.detail = `${count("killed")} killed, ${count("refused")} refused, ${count("spared")} spared${
        str(d, "skipped") ? ` (${str(d, "skipped")})` : ""
      }`;
    }
    // An outcome names its target, and its action only sometimes: it answers the latest call sent
    // to that target (with that action, when it names one).
    const pending = rows.findLastIndex(
      (r) =>
        r.row.status === "sending" &&
        r.row.target === row.target &&
        (row.action === undefined || r.row.action === row.action),
    );
    if (pending >= 0 && entry.status !== "sending") {
      const sent = rows[pending]!.row;
      rows[pending] = {
        row: {
          ...row,
          action: row.action ?? sent.action,
          platform: row.platform ?? sent.platform,
          method: row.method ?? sent.method,
          endpoint: row.endpoint ?? sent.endpoint,
        },
      };
    } else rows.push({ row });
  }
  return rows.map((r) => r.row);
}

/** One line of text for a journal entry. */
export function entrySummary(entry: JournalEntry): string {
  const d = detailOf(entry);
  if (entry.status === "error") {
    const retry = num(d, "retryInSeconds");
    return `${str(d, "message") ?? str(d, "error") ?? ""}${retry === undefined ? "" : ` (retry in ${int(retry)} s)`}`;
  }
  switch (entry.step) {
    case "intake":
      if (entry.status === "merged") return `merged from ${str(d, "from") ?? "?"}`;
      return [
        str(d, "event"),
        str(d, "metric"),
        d.value === undefined || d.value === null ? undefined : `= ${String(d.value)}`,
      ]
        .filter(Boolean)
        .join(" ");
    case "trigger":
      return `${str(d, "reason") ?? "manual"}${d.dryRun === true ? " (dry run)" : ""}`;
    case "stats":
    case "verify": {
      if (entry.status === "identified") return `${str(d, "cluster") ?? "?"} via ${str(d, "via") ?? "?"}`;
      const r = readingOf(entry);
      return r ? figures(r.current, r.limit, r.percent) : "no figures";
    }
    case "plan":
      return planText(readPlan(entry));
    case "approval":
      if (entry.status === "requested") return planText(readPlan(entry));
      if (entry.status === "refused")
        return `${str(d, "decision") ?? "?"} by ${str(d, "by") ?? "?"} refused: ${str(d, "reason") ?? ""}`;
      return `by ${str(d, "by") ?? "someone"}${str(d, "source") ? ` (${str(d, "source")})` : ""}${
        str(d, "until") ? ` until ${utc(str(d, "until"))}` : ""
      }`;
    case "action":
      return [str(d, "action"), str(d, "target"), str(d, "detail")].filter(Boolean).join(" · ");
    case "advice":
      return `${list(d, "advice").length} piece(s) of advice`;
    case "incident":
      return str(d, "reason") ?? str(d, "note") ?? "";
    case "slack":
      return str(d, "error") ?? "";
    default:
      return "";
  }
}

function notice(done: string | undefined): string | null {
  switch (done) {
    case "approve":
      return "Approved: the responder acts now.";
    case "skip":
      return "Skipped: no action will be taken for this request.";
    case "snooze":
      return "Snoozed: the cluster is held for an hour.";
    case "unchanged":
      return "Nothing changed: the request was already decided, has moved on, or the responder's mode does not act.";
    default:
      return null;
  }
}

export async function incidentPage(c: Context<DashboardEnv>) {
  const id = c.req.param("id") ?? "";
  const where = parseIncidentId(id);
  const incident = where ? await c.var.ledgers.get(where.groupId, id) : null;
  if (!incident) {
    return c.html(
      <Layout title="Not found" csrf={c.var.csrf}>
        <h1>Incident not found</h1>
        <p>
          <a href="/ui/incidents">All incidents</a>
        </p>
      </Layout>,
      404,
    );
  }
  const journal = incident.journal;
  const mode = c.var.config.modeFor(incident.cluster.groupId, incident.cluster.name);
  const figuresBA = beforeAfter(journal);
  const plan = lastOf(journal, "plan");
  const request = pendingRequest(incident);
  const actions = actionRows(journal);
  const verifies = journal.filter((e) => e.step === "verify");
  const advice = lastOf(journal, "advice");
  const adviceItems = advice ? list(detailOf(advice), "advice").filter(isRecord) : [];
  const latest = journal.map(readingOf).findLast((r) => r !== null);
  const message = notice(c.req.query("done"));
  return c.html(
    <Layout title={`Incident on ${incident.cluster.name}`} current="incidents" csrf={c.var.csrf}>
      <h1>
        {incident.cluster.name} <span class={stateClass(incident.state)}>{STATE_LABEL[incident.state]}</span>
      </h1>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      <section class="card" aria-labelledby="facts-title">
        <h2 id="facts-title">Summary</h2>
        <dl class="facts">
          <dt>Incident</dt>
          <dd>
            <code>{incident.id}</code>
          </dd>
          <dt>Project</dt>
          <dd>
            <code>{incident.cluster.groupId}</code>
          </dd>
          <dt>Mode</dt>
          <dd>{mode}</dd>
          <dt>Opened</dt>
          <dd>{utc(incident.openedAt)}</dd>
          <dt>Updated</dt>
          <dd>{utc(incident.updatedAt)}</dd>
          <dt>Tier</dt>
          <dd>{latest?.tier ?? "unknown"}</dd>
          <dt>Connections before → after</dt>
          <dd>{figuresBA ? `${figuresBA.before} → ${figuresBA.after}` : "not measured"}</dd>
          {latest && latest.byApp.length > 0 && <dt>Top apps</dt>}
          {latest && latest.byApp.length > 0 && (
            <dd>
              {latest.byApp
                .slice(0, 8)
                .map((a) => `${a.app}${a.env ? ` (${a.env})` : ""}: ${int(a.connections)}`)
                .join(", ")}
            </dd>
          )}
        </dl>
      </section>
      {(plan || request) && (
        <section class="card" aria-labelledby="plan-title">
          <h2 id="plan-title">Plan</h2>
          <p>{planText(readPlan(request ?? plan!))}</p>
          {request && (
            <DecisionForm
              incidentId={incident.id}
              requestedAt={request.at}
              csrf={c.var.csrf}
              failover={readPlan(request).kind === "failover"}
            />
          )}
        </section>
      )}
      <section class="card" aria-labelledby="actions-title">
        <h2 id="actions-title">Actions</h2>
        {actions.length === 0 ? (
          <p>No action yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Outcome</th>
                <th scope="col">Endpoint</th>
              </tr>
            </thead>
            <tbody>
              {actions.map((a) => (
                <tr>
                  <td>{clock(a.at)}</td>
                  <td>{a.action ?? "action"}</td>
                  <td>
                    {a.target ?? "—"}
                    {a.platform ? ` (${a.platform})` : ""}
                  </td>
                  <td>
                    <strong>{a.status}</strong>
                    {a.detail ? ` — ${a.detail}` : ""}
                    {a.deployId ? ` (deploy ${a.deployId})` : ""}
                    {a.status === "unknown" ? " — a human must check" : ""}
                  </td>
                  <td>{a.endpoint ? <code>{`${a.method ?? ""} ${a.endpoint}`.trim()}</code> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {verifies.length > 0 && (
        <section class="card" aria-labelledby="verify-title">
          <h2 id="verify-title">Verification</h2>
          <ul>
            {verifies.map((e) => {
              const d = detailOf(e);
              const r = readingOf(e);
              return (
                <li>
                  {`${clock(e.at)} · check ${num(d, "check") ?? "?"} of ${num(d, "of") ?? "?"}: ${e.status.replace("-", " ")}${
                    r ? ` — ${figures(r.current, r.limit, r.percent)}` : ""
                  }`}
                </li>
              );
            })}
          </ul>
        </section>
      )}
      {adviceItems.length > 0 && (
        <section class="card" aria-labelledby="advice-title">
          <h2 id="advice-title">Prevention</h2>
          {adviceItems.map((item) => (
            <div>
              <h3>{str(item, "app") ? `For ${str(item, "app")}` : "For the whole cluster"}</h3>
              <p>{str(item, "summary") ?? ""}</p>
              <ul>
                {list(item, "steps")
                  .filter((s): s is string => typeof s === "string")
                  .map((s) => (
                    <li>{s}</li>
                  ))}
              </ul>
            </div>
          ))}
        </section>
      )}
      <section class="card" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Alerts</h2>
        {incident.alerts.length === 0 ? (
          <p>No alert (started by hand or by the watch).</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Metric</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {incident.alerts.map((a) => (
                <tr>
                  <td>{utc(a.receivedAt)}</td>
                  <td>{a.event ?? "—"}</td>
                  <td>{a.status}</td>
                  <td>{a.metricName ?? "—"}</td>
                  <td>
                    {a.currentValue
                      ? `${a.currentValue.number}${a.currentValue.units ? ` ${a.currentValue.units}` : ""}`
                      : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <ol class="timeline">
          {journal.map((e) => (
            <li>
              <time datetime={e.at}>{clock(e.at)}</time>
              <span>
                <strong>{e.step}</strong> {e.status}
              </span>
              <span>{entrySummary(e)}</span>
            </li>
          ))}
        </ol>
      </section>
    </Layout>,
  );
}
