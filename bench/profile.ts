/**
 * CPU profiles of the Worker's isolate through `wrangler dev --inspector-port` (Chrome DevTools
 * Protocol, V8's sampling profiler). What it measures is V8 thread time spent running the Worker's
 * JavaScript — its fetch handler, Durable Object methods and alarms, and the runtime's built-ins they
 * call (crypto, SQLite, streams) — not wall-clock: idle samples are excluded. That is the nearest
 * honest stand-in for Cloudflare's CPU-time limit that a local workerd offers (it enforces none).
 */

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Microseconds of the window in which the isolate ran something (not "(idle)"). */
  busyUs: number;
  windowUs: number;
  /** Self time by function, busiest first: `name (file:line)` → µs. */
  top: Array<{ frame: string; selfUs: number }>;
  /** Self time by file (the Worker's own files, the runtime's built-ins, GC). */
  byFile: Array<{ file: string; selfUs: number }>;
  /** Inclusive time (self + callees) by function name, busiest first. */
  inclusive: Array<{ name: string; us: number }>;
}

export interface Inspector {
  start(): Promise<void>;
  stop(): Promise<CpuProfile>;
  close(): void;
}

/** Connects to the inspector of the Worker behind `wrangler dev --inspector-port PORT`. */
export async function connectInspector(port: number, samplingIntervalUs = 100): Promise<Inspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{
    webSocketDebuggerUrl: string;
    title?: string;
  }>;
  const target = targets[0];
  if (!target) throw new Error("the inspector lists no target");
  // The inspector proxy accepts only a local (or DevTools) Origin; undici's WebSocket sends none unless told.
  const socket = new WebSocket(target.webSocketDebuggerUrl, {
    headers: { origin: `http://127.0.0.1:${port}` },
  } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error("inspector websocket failed")), { once: true });
  });
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      seq += 1;
      pending.set(seq, { resolve, reject });
      socket.send(JSON.stringify({ id: seq, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
  return {
    async start() {
      await send("Profiler.start");
    },
    async stop() {
      const result = (await send("Profiler.stop")) as { profile: CpuProfile };
      return result.profile;
    },
    close: () => socket.close(),
  };
}

const IDLE = new Set(["(idle)", "(program)"]);

/**
 * Busy time and where it goes. "(program)" (V8's own bookkeeping outside any JS, which in workerd
 * also covers waiting in the event loop between tasks) is counted as idle, so busy time is a lower
 * bound of the isolate's CPU; "(garbage collector)" is counted as busy.
 */
export function summarize(profile: CpuProfile, topN = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let busyUs = 0;
  const frames = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (IDLE.has(functionName)) continue;
    busyUs += us;
    const file = url
      ? url.replace(/^.*\/(src|node_modules)\//, "$1/")
      : functionName.startsWith("(")
        ? functionName
        : "(native)";
    const frame = `${functionName || "(anonymous)"} (${file}${url ? `:${lineNumber + 1}` : ""})`;
    frames.set(frame, (frames.get(frame) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const leaf = byId.get(id);
    if (!leaf || IDLE.has(leaf.callFrame.functionName)) continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)?.callFrame.functionName || "(anonymous)";
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const sorted = <K>(m: Map<K, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    busyUs,
    windowUs: profile.endTime - profile.startTime,
    top: sorted(frames)
      .slice(0, topN)
      .map(([frame, selfUs]) => ({ frame, selfUs })),
    byFile: sorted(files)
      .slice(0, topN)
      .map(([file, selfUs]) => ({ file, selfUs })),
    inclusive: sorted(inclusive)
      .filter(([name]) => name !== "(root)" && name !== "(anonymous)")
      .slice(0, topN * 2)
      .map(([name, us]) => ({ name, us })),
  };
}

/** Busy µs before and after `splitUs` (a time on the profile's clock), and the busiest frames after it. */
export function splitAt(
  profile: CpuProfile,
  splitUs: number,
): { beforeUs: number; afterUs: number; frames: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let t = profile.startTime;
  let beforeUs = 0;
  let afterUs = 0;
  const frames = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    const node = byId.get(id);
    if (!node || IDLE.has(node.callFrame.functionName)) return;
    if (t < splitUs) beforeUs += dt;
    else {
      afterUs += dt;
      const name = node.callFrame.functionName || "(anonymous)";
      frames.set(name, (frames.get(name) ?? 0) + dt);
    }
  });
  return { beforeUs, afterUs, frames };
}
