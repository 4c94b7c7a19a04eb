/**
 * Secrets and vars the Worker sees inside the workerd tests. Test-only values: each is distinctive so
 * a test can search logs and bodies for it and prove it never leaks.
 */
export const TEST_SECRETS = {
  ATLAS_WEBHOOK_SECRET: "whsec-test-3f9c1e7a-atlas",
  ADMIN_TOKEN: "admin-token-test-8d2b44e0c6a1",
} as const;

export const TEST_BINDINGS: Record<string, string> = {
  ...TEST_SECRETS,
  RESPONDER_MODE: "approve",
};
