import { defineConfig } from "vitest/config";

// Three projects: plain Node (fakes, CLIs, pure logic), workerd (routes, ledger, end to end), and one
// serial project for everything that runs `wrangler dev` or headless Chromium.
export default defineConfig({
  test: { projects: ["./vitest.node.config.ts", "./vitest.workers.config.ts", "./vitest.serial.config.ts"] },
});
