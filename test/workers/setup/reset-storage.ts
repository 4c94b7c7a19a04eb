// Every test starts with empty Durable Object storage, so tests never see each other's incidents.
import { reset } from "cloudflare:test";
import { afterEach } from "vitest";

afterEach(async () => {
  await reset();
});
