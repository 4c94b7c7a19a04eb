/**
 * The env files `npm run dev` and `npm start` hand to wrangler: a runner killed with SIGKILL cannot
 * delete its own, so the next one deletes the folders of runners that are gone, and only those.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeOrphanedEnvFiles, writeEnvFile } from "../../scripts/wrangler-env.ts";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A folder named as a runner with `pid` would name it, holding a secret. */
function leftover(pid: number): string {
  const dir = path.join(tmpdir(), `atlas-responder-env-${pid}-test${made.length}`);
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(path.join(dir, "worker.env"), "ADMIN_TOKEN='left-behind-token-0000'\n", { mode: 0o600 });
  made.push(dir);
  return dir;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("env files", () => {
  it("are 0600 in a 0700 folder named after the runner, and gone when removed", () => {
    const file = writeEnvFile({ ADMIN_TOKEN: "a-token-for-this-test-1" });
    made.push(path.dirname(file.path));
    expect(path.basename(path.dirname(file.path))).toMatch(
      new RegExp(`^atlas-responder-env-${process.pid}-`),
    );
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file.path)).mode & 0o777).toBe(0o700);
    expect(readFileSync(file.path, "utf8")).toBe("ADMIN_TOKEN='a-token-for-this-test-1'\n");
    file.remove();
    expect(existsSync(path.dirname(file.path))).toBe(false);
  });

  it("left by a runner that is gone are deleted by the next one; a running runner's stay", () => {
    const orphan = leftover(deadPid());
    const running = leftover(process.ppid);
    expect(removeOrphanedEnvFiles()).toBeGreaterThanOrEqual(1);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(running)).toBe(true);

    const again = leftover(deadPid());
    const file = writeEnvFile({ ADMIN_TOKEN: "a-token-for-this-test-2" });
    made.push(path.dirname(file.path));
    expect(existsSync(again)).toBe(false);
    expect(existsSync(file.path)).toBe(true);
  });
});
