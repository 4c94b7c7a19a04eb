import { defineConfig } from "vitest/config";

// Two projects: plain Node (fakes, CLIs, pure logic) and workerd (routes, ledger, end to end).
export default defineConfig({
  test: { projects: ["./vitest.node.config.ts", "./vitest.workers.config.ts"] },
});
