import { builtinModules } from "node:module";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";
import { testBindings } from "./test/workers/bindings.ts";

export default defineProject({
  plugins: [
    // A function, so the bindings can name the fakes the global setups started.
    // workerd's verbose log stays on (the plugin's default): it prints "Uncaught (in promise)" for a
    // failed fetch even when the caller catches it (the refused-connection tests), but it is also the
    // only report of a rejected promise handed to waitUntil (src/http/routes/slack-actions.ts does
    // that), which vitest itself never sees. A quieter run is not worth hiding those.
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: testBindings({
          mongo: inject("e2eMongo"),
          targets: inject("e2eTargets"),
          atlasApiUrl: inject("atlasApiUrl"),
          atlasCredentials: inject("atlasCredentials"),
          slack: inject("slack"),
          notifyUrl: inject("notifyUrl"),
        }),
      },
    })),
  ],
  test: {
    name: "workers",
    include: ["test/workers/**/*.test.ts"],
    // The files share the fakes the global setups start (one fake Slack, one platforms fake), and
    // some arm faults on them: one file at a time, beside the other projects.
    fileParallelism: false,
    setupFiles: ["./test/workers/setup/reset-storage.ts"],
    // Fake servers (MongoDB wire protocol, Atlas Admin API, …) run in Node and hand their ports in.
    globalSetup: [
      "./test/workers/setup/mongo.global.ts",
      "./test/workers/setup/atlas.global.ts",
      "./test/workers/setup/platforms.global.ts",
      "./test/workers/setup/slack.global.ts",
      "./test/workers/setup/notify.global.ts",
    ],
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
