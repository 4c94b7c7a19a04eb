/**
 * Vitest global setup (runs in Node, once per run): a fake NOTIFY_WEBHOOK_URL receiver, recording
 * every POST (path, headers, raw body) and answering 204, or what a test asks for.
 *
 * Control: `GET /__control/requests?path=` (the recorded POSTs to that path), `POST
 * /__control/fail-next {path, status?, retryAfter?, hang?, times?}` (the next POSTs to `path` answer
 * `status` with `Retry-After`, or never answer). Tests use a path of their own so they stay apart.
 */
import { createServer } from "node:http";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** e.g. "http://127.0.0.1:41237"; NOTIFY_WEBHOOK_URL is `${notifyUrl}/hook`. */
    notifyUrl: string;
  }
}

interface Recorded {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const recorded: Recorded[] = [];
  const faults: Array<{ path: string; status?: number; retryAfter?: string; hang?: boolean; times: number }> =
    [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://receiver");
      const body = Buffer.concat(chunks).toString("utf8");
      if (url.pathname === "/__control/requests") {
        const path = url.searchParams.get("path");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ requests: recorded.filter((r) => path === null || r.path === path) }));
        return;
      }
      if (url.pathname === "/__control/fail-next") {
        const fault = JSON.parse(body) as (typeof faults)[number];
        faults.push({ ...fault, times: fault.times ?? 1 });
        res.writeHead(204).end();
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
      );
      recorded.push({ path: url.pathname, headers, body });
      const fault = faults.find((f) => f.path === url.pathname && f.times > 0);
      if (fault) {
        fault.times--;
        if (fault.hang) return; // never answers
        res.writeHead(fault.status ?? 500, fault.retryAfter ? { "retry-after": fault.retryAfter } : {});
        res.end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("notify receiver: no TCP address");
  project.provide("notifyUrl", `http://127.0.0.1:${address.port}`);
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
