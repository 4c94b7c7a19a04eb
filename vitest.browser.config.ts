import { defineProject } from "vitest/config";

// Real headless Chromium against `wrangler dev`: one file at a time, with generous timeouts.
export default defineProject({
  test: {
    name: "browser",
    include: ["test/browser/**/*.test.ts"],
    pool: "forks",
    environment: "node",
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
