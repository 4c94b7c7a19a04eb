import { builtinModules } from "node:module";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import { TEST_BINDINGS } from "./test/workers/bindings.ts";

export default defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: TEST_BINDINGS },
    }),
  ],
  test: {
    name: "workers",
    include: ["test/workers/**/*.test.ts"],
    setupFiles: ["./test/workers/setup/reset-storage.ts"],
    // Fake servers (MongoDB wire protocol, Atlas Admin API, …) run in Node and hand their ports in.
    globalSetup: [],
    // Workaround: without pre-bundling, the workers module fallback resolves require("bson") inside
    // mongodb/lib/bson.js to that file itself ("Maximum call stack size exceeded"). Pre-bundle the
    // driver and keep Node built-ins external (they come from workerd's nodejs_compat).
    deps: {
      optimizer: {
        ssr: {
          enabled: true,
          include: ["mongodb"],
          rolldownOptions: { external: [...builtinModules, /^node:/] },
        },
      },
    },
  },
});
