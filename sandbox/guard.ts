/**
 * Runs one command in its own process group and ends that whole group when the sandbox goes away —
 * stopped (SIGTERM/SIGINT) or killed outright (SIGKILL), which the sandbox cannot trap: then the
 * pipe on our stdin closes, or our parent pid changes, and we stop the group ourselves.
 *
 * `node sandbox/guard.ts <command> [args…]`: the command's stdout/stderr are ours.
 */
import { spawn } from "node:child_process";

const GRACE_MS = 4_000;
const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node sandbox/guard.ts <command> [args…]\n");
  process.exit(2);
}

const parent = process.ppid;
const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], detached: true });
let stopping = false;

function signalGroup(signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  signalGroup("SIGTERM");
  // Whatever is left of the group (workerd under wrangler) goes after the grace period.
  setTimeout(() => {
    signalGroup("SIGKILL");
    process.exit(0);
  }, GRACE_MS).unref();
}

child.on("exit", (code, signal) => {
  // The command is gone; take any grandchild it left in the group with it.
  signalGroup("SIGKILL");
  process.exit(code ?? (signal ? 1 : 0));
});
child.on("error", (error) => {
  process.stderr.write(`could not start ${command}: ${error.message}\n`);
  process.exit(1);
});
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("SIGHUP", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 500).unref();
