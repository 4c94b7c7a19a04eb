/**
 * Prevention advice, derived from what was measured: which app, how many connections per client
 * host, and the settings that stop the leak (notes/atlas.md §5). Pure; rendered by Slack and the
 * dashboard, journaled with the incident.
 */
import type { Assessment } from "../stats/assess.ts";
import type { AppConnections } from "../stats/types.ts";

/** Per-process pool size that leaves room for many serverless instances under a 500 limit. */
const SUGGESTED_POOL = 5;

export interface Advice {
  /** The app the advice is about, or null for advice about the whole cluster. */
  app: string | null;
  summary: string;
  steps: string[];
}

const BASE_STEPS = [
  "Create one MongoClient per process at module scope and reuse it; never one per request.",
  `Set maxPoolSize to ${SUGGESTED_POOL}–10 and minPoolSize to 0.`,
  "Set maxIdleTimeMS (60000, or 5000–10000 on serverless) so idle sockets close.",
];

/** How to find the leaking lines in an app's code: `npm run doctor` (src/doctor/) on its repository. */
export function doctorStep(app: string | null): string {
  const repository = app ? `${app}'s repository` : "each app's repository";
  return `Run \`npm run doctor -- <path to ${repository}>\` in atlas-responder: it points at the lines that leak connections, and \`--patch\` prints the fix as a diff.`;
}

/** Advice for the apps the assessment attributes connections to, or general advice where it cannot. */
export function preventionAdvice(assessment: Assessment, culprits: readonly AppConnections[]): Advice[] {
  if (!assessment.attributed || culprits.length === 0) {
    return [
      {
        app: null,
        summary: `${assessment.tier ?? "This tier"} cannot tell which app holds the connections, so the responder restarts the owning apps one at a time.`,
        steps: [
          doctorStep(null),
          ...BASE_STEPS,
          "Give every service its own appName in the connection string, so the source of connections is visible on dedicated tiers and in Atlas's logs.",
          "On Vercel, call attachDatabasePool(client) from @vercel/functions right after creating the client.",
        ],
      },
    ];
  }
  return culprits.map((app) => {
    const hosts = app.hosts.length;
    const perHost = hosts > 0 ? Math.round(app.connections / hosts) : null;
    const where = hosts > 0 ? ` from ${hosts} client host${hosts === 1 ? "" : "s"} (~${perHost} each)` : "";
    // The doctor step comes early: Slack keeps only the first few steps of a long message.
    const steps = [doctorStep(app.app === "(no appName)" ? null : app.app), ...BASE_STEPS];
    if (app.env === "vercel") {
      steps.push(
        "Call attachDatabasePool(client) from @vercel/functions so suspended functions release their sockets.",
      );
    } else if (app.env === "aws.lambda") {
      steps.push("Set context.callbackWaitsForEmptyEventLoop = false in callback-style handlers.");
    }
    if (perHost !== null && perHost > 20) {
      steps.unshift(
        `${perHost} connections per host is more than one client's pool: look for several MongoClient instances or per-request clients.`,
      );
    }
    if (app.app === "(no appName)")
      steps.push("Set appName in the connection string so this service is named.");
    return {
      app: app.app,
      summary: `${app.app}${app.env ? ` on ${app.env}` : ""} holds ${app.connections} connections${where}.`,
      steps,
    };
  });
}
