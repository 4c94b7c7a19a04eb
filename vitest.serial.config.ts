import { defineProject } from "vitest/config";

// Everything that starts `wrangler dev` or drives headless Chromium: one file at a time, so two
// workerd processes and a browser never compete for the same two cores, with generous timeouts.
export default defineProject({
  test: {
    name: "serial",
    include: ["test/serial/**/*.test.ts"],
    pool: "forks",
    environment: "node",
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
