/**
 * Starts and stops leaky-app.ts as a child process, for tests, the workerd global setup and the sandbox.
 *
 * The child gets a clean environment (PATH plus what the caller passes), not the parent's: the driver
 * derives its handshake `env` from variables such as VERCEL, AWS_REGION or KUBERNETES_SERVICE_HOST,
 * and a CI runner's own variables must not make every leaky app look like it runs there.
 * Trade-off: a real process per app (~0.3 s to start) instead of clients inside the test process,
 * because that is the only way the driver's environment detection sees a different platform.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface LeakyAppOptions {
  uri: string;
  /** The driver `appName`; what `$currentOp` attributes the connections to. */
  app: string;
  /** Sockets the server should see from this app (monitor included); ≥ 2. */
  connections: number;
  /** See leaky-app.ts: one warm pool (default) or a leaked client per request (even counts only). */
  style?: "pool" | "clients";
  /**
   * Keep one query of this many milliseconds running (re-issued when it ends or is killed), on the
   * fake server's `slow_<ms>` collection. Default: none.
   */
  slowQueryMs?: number;
  /** Extra environment, e.g. `{ VERCEL: "1", VERCEL_REGION: "iad1" }`. */
  env?: Record<string, string>;
  /** Give up (and kill the child) if it is not ready by then. Default 20 s. */
  readyTimeoutMs?: number;
}

export interface LeakyApp {
  readonly pid: number;
  readonly app: string;
  /** Whether the process is still running. */
  running(): boolean;
  /** SIGTERM (SIGKILL after 5 s) and resolve once the process has exited. Safe to call twice. */
  kill(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL("./leaky-app.ts", import.meta.url));
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const KILL_GRACE_MS = 5_000;

/** Spawns a leaky app and resolves once it reports that the server holds all its connections. */
export function spawnLeakyApp(options: LeakyAppOptions): Promise<LeakyApp> {
  const args = [
    SCRIPT,
    "--uri",
    options.uri,
    "--app",
    options.app,
    "--connections",
    String(options.connections),
  ];
  if (options.style) args.push("--style", options.style);
  if (options.slowQueryMs !== undefined) args.push("--slow-ms", String(options.slowQueryMs));
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  // The child gives up first and says why on stderr; the parent's timer is the backstop.
  args.push("--ready-timeout-ms", String(readyTimeoutMs));
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...options.env };
  const child = spawn(process.execPath, args, {
    // The cast only drops the Worker's binding names that `wrangler types` adds to NodeJS.ProcessEnv.
    env: env as unknown as NodeJS.ProcessEnv,
    // The IPC channel lets the child notice when its parent dies and exit with it.
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });

  return new Promise<LeakyApp>((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => {
      void stop(child, exited);
      reject(new Error(`leaky app ${options.app} not ready within ${readyTimeoutMs} ms: ${stderr.trim()}`));
    }, readyTimeoutMs + KILL_GRACE_MS);
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!/^ready \d+$/m.test(stdout)) return;
      clearTimeout(timer);
      const pid = child.pid!;
      resolve({
        pid,
        app: options.app,
        running: () => child.exitCode === null && child.signalCode === null,
        kill: () => stop(child, exited),
      });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `leaky app ${options.app} exited (${code ?? signal}) before it was ready: ${stderr.trim()}`,
        ),
      );
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const escalate = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  await exited;
  clearTimeout(escalate);
}
