import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    pool: "forks",
    environment: "node",
  },
});
