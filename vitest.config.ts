import { defineConfig } from "vitest/config";

// Three projects: plain Node (fakes, CLIs, pure logic), workerd (routes, ledger, end to end) and the
// dashboard in headless Chromium against `wrangler dev`.
export default defineConfig({
  test: { projects: ["./vitest.node.config.ts", "./vitest.workers.config.ts", "./vitest.browser.config.ts"] },
});
