/**
 * The load generator: autocannon against the Worker, for a plain GET (the `/healthz` baseline) or
 * signed webhook deliveries whose body each request builds afresh (a distinct alert per request,
 * signed with HMAC-SHA1 as Atlas does, synchronously so autocannon can send it at once).
 */
import { createHmac } from "node:crypto";
import autocannon from "autocannon";

export interface LoadResult {
  /** 2xx answers per second over the run. */
  throughput: number;
  p50: number;
  p99: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  statuses: Record<string, number>;
}

export interface LoadOptions {
  base: string;
  connections: number;
  /** Seconds; or `amount` requests. */
  duration?: number;
  amount?: number;
  /** Fixed overall rate (requests/s); none: as fast as the server answers. */
  rate?: number;
}

/** A request source: the healthz baseline, or deliveries built by `next()` (body + event). */
export type Target =
  | { kind: "get"; path: string }
  | { kind: "webhook"; secret: string; next: () => { body: unknown; event: string } };

export async function load(target: Target, options: LoadOptions): Promise<LoadResult> {
  const request =
    target.kind === "get"
      ? { method: "GET", path: target.path }
      : {
          method: "POST",
          path: "/webhooks/atlas",
          setupRequest: (req: { method?: string; path?: string }) => {
            const { body, event } = target.next();
            const raw = JSON.stringify(body);
            return {
              ...req,
              body: raw,
              headers: {
                "content-type": "application/json",
                "x-mms-event": event,
                "x-mms-signature": createHmac("sha1", target.secret).update(raw).digest("base64"),
              },
            };
          },
        };
  const result = await autocannon({
    url: options.base,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 10 }),
    ...(options.rate !== undefined ? { overallRate: options.rate } : {}),
    timeout: 30,
    requests: [request],
  });
  const statuses: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {}))
    statuses[code] = Number(count);
  return {
    throughput: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    sent: result.requests.sent,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.duration,
    statuses,
  };
}
