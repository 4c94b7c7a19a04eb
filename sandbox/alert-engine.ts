/**
 * The simulated Atlas alert: watches the fake cluster's connection percentage the way an Atlas
 * "Connections % of configured limit" alert does, and sends the responder real Atlas webhooks —
 * the body Atlas sends, `X-MMS-Event`, and `X-MMS-Signature` (base64 HMAC-SHA1 of the raw body
 * with the webhook secret). OPEN once the value has stayed above the threshold for the delay,
 * `alert.update` at the interval while it stays open, CLOSED once it has stayed back under it.
 */
import { randomBytes } from "node:crypto";
import { sampleConnectionAlert } from "../src/atlas/sample-alert.ts";
import { signAtlasBody } from "../src/atlas/webhook-signature.ts";
import type { AlertRule } from "./config.ts";

export interface AlertEngineOptions {
  rule: AlertRule;
  /** The responder's webhook URL. */
  url: string;
  secret: string;
  groupId: string;
  cluster: string;
  /** `host:port` of the node the alert is about, as the Admin API lists it. */
  hostnameAndPort: string;
  replicaSetName: string;
  /** The current connections % of the limit. */
  percent(): number;
  /** What happened, for the terminal. */
  report(event: AlertEngineEvent): void;
  /** How often the value is read; default 1 s. */
  pollMs?: number;
}

export interface AlertEngineEvent {
  kind: "open" | "update" | "close";
  percent: number;
  alertId: string;
  status: number | null;
  /** The incident the responder answered with, when it named one. */
  incident?: string;
  error?: string;
}

export interface AlertEngine {
  /** The open alert's id, or null. */
  openAlert(): string | null;
  stop(): void;
}

export function startAlertEngine(options: AlertEngineOptions): AlertEngine {
  const { rule } = options;
  let aboveSince: number | null = null;
  let belowSince: number | null = null;
  let open: { id: string; created: Date; lastSent: number } | null = null;
  let busy = false;

  async function send(kind: AlertEngineEvent["kind"], percent: number, alertId: string, created: Date) {
    const now = new Date();
    const sample = await sampleConnectionAlert({
      groupId: options.groupId,
      cluster: options.cluster,
      percent,
      status: kind === "close" ? "CLOSED" : "OPEN",
      now,
    });
    const at = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    const body: Record<string, unknown> = {
      ...sample.body,
      id: alertId,
      created: at(created),
      hostnameAndPort: options.hostnameAndPort,
      replicaSetName: options.replicaSetName,
      humanReadable: `Host ${options.hostnameAndPort} has Connections % of configured limit ${kind === "close" ? "back below" : "above"} the threshold: ${percent}. (simulated by the atlas-responder sandbox)`,
    };
    const event = kind === "open" ? "alert.open" : kind === "update" ? "alert.update" : "alert.close";
    const raw = JSON.stringify(body);
    try {
      const response = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-mms-event": event,
          "x-mms-signature": await signAtlasBody(raw, options.secret),
        },
        body: raw,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      let incident: string | undefined;
      try {
        const parsed = JSON.parse(text) as { incident?: unknown };
        if (typeof parsed.incident === "string") incident = parsed.incident;
      } catch {
        // not JSON
      }
      options.report({ kind, percent, alertId, status: response.status, ...(incident ? { incident } : {}) });
    } catch (error) {
      options.report({ kind, percent, alertId, status: null, error: (error as Error).message });
    }
  }

  async function tick() {
    if (busy) return;
    busy = true;
    try {
      const percent = Math.round(options.percent() * 10) / 10;
      const now = Date.now();
      const above = percent >= rule.thresholdPercent;
      aboveSince = above ? (aboveSince ?? now) : null;
      belowSince = above ? null : (belowSince ?? now);
      if (!open && aboveSince !== null && now - aboveSince >= rule.openAfterSeconds * 1000) {
        open = { id: randomBytes(12).toString("hex"), created: new Date(), lastSent: now };
        await send("open", percent, open.id, open.created);
      } else if (open && belowSince !== null && now - belowSince >= rule.closeAfterSeconds * 1000) {
        const closing = open;
        open = null;
        await send("close", percent, closing.id, closing.created);
      } else if (open && above && now - open.lastSent >= rule.updateEverySeconds * 1000) {
        open.lastSent = now;
        await send("update", percent, open.id, open.created);
      }
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(() => void tick(), options.pollMs ?? 1000);
  return {
    openAlert: () => open?.id ?? null,
    stop: () => clearInterval(timer),
  };
}
