/**
 * `npm start`: runs the Worker locally under `wrangler dev` on 127.0.0.1:8787 (or PORT), with no
 * account. ADMIN_TOKEN comes from the environment when set, else one is generated and printed; the
 * webhook secret comes from the environment or .dev.vars, else a local one is generated. Once the
 * Worker answers /healthz it prints how to send it a signed sample alert. Local state lives in
 * .wrangler/state (or RESPONDER_STATE_DIR). Values reach wrangler through a 0600 temporary env file
 * (./wrangler-env.ts), never `--var`, which `ps` shows every user.
 */
import { randomBytes } from "node:crypto";
import { EnvironmentFileError, type LoadedEnvironment, loadEnvironment } from "../src/cli/environment.ts";
import { runWrangler, workerValues } from "./wrangler-env.ts";

const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("PORT must be a TCP port number");
  process.exit(2);
}
let loaded: LoadedEnvironment;
try {
  loaded = loadEnvironment();
} catch (error) {
  if (!(error instanceof EnvironmentFileError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { env } = loaded;
const generated: string[] = [];
const pick = (name: string): string => {
  const value = env[name];
  if (typeof value === "string" && value) return value;
  generated.push(name);
  return `local-${randomBytes(18).toString("base64url")}`;
};
const adminToken =
  typeof process.env.ADMIN_TOKEN === "string" && process.env.ADMIN_TOKEN
    ? process.env.ADMIN_TOKEN
    : pick("ADMIN_TOKEN");
const webhookSecret = pick("ATLAS_WEBHOOK_SECRET");

const base = `http://127.0.0.1:${port}`;
runWrangler(
  [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--show-interactive-dev-session=false",
    // Local incidents survive restarts here; tests point it at a temporary folder.
    "--persist-to",
    process.env.RESPONDER_STATE_DIR || ".wrangler/state",
  ],
  { ...workerValues(loaded), ADMIN_TOKEN: adminToken, ATLAS_WEBHOOK_SECRET: webhookSecret },
  ["ignore", "inherit", "inherit"],
);

async function waitForHealth(deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

if (await waitForHealth(Date.now() + 60_000)) {
  const secretNote = generated.includes("ATLAS_WEBHOOK_SECRET") ? " (generated for this run)" : "";
  const tokenNote = generated.includes("ADMIN_TOKEN") ? " (generated for this run)" : "";
  console.log(`
atlas-responder is running locally at ${base}

  webhook secret${secretNote}: ${webhookSecret}
  admin token${tokenNote}:    ${adminToken}

Send it a signed sample alert (as Atlas would), then look at the incident:
  npm run alert:test -- --url ${base}/webhooks/atlas --secret '${webhookSecret}'
  curl -H 'Authorization: Bearer ${adminToken}' ${base}/incidents

Everything here is local; nothing talks to Atlas, Slack or a deploy platform. Ctrl-C stops it.
`);
} else {
  console.error(`The Worker did not answer ${base}/healthz within 60 s; see wrangler's output above.`);
}
