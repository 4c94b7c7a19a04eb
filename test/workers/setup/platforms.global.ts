/**
 * Vitest global setup (runs in Node, once per run): starts the fake deploy platforms
 * (fakes/platforms.ts) and provides its base URL, because code inside workerd cannot start a
 * server. Workerd tests drive it over HTTP: `POST /__control/targets {kind, name, options}` for a
 * ready target and its secrets, `POST /__control/fail-next {platform, fault, target?, action?}`,
 * `POST /__control/in-progress {target, inProgress}`, `GET /__control/calls?target=…`, and
 * `POST /__control/on-redeploy {target, request: {method, url}}` to have the fake call a URL when a
 * redeploy is accepted, and `POST /__control/release {target}` to let calls held by a `"hold"`
 * fault go on.
 *
 * Trade-off: one fake for the whole run, shared by every test file. Its faults and call log are
 * keyed by target, so files stay independent as long as each uses its own target names.
 */
import type { TestProject } from "vitest/node";
import { type FakeTargetSetup, startFakePlatforms } from "../../../fakes/platforms.ts";
import { E2E_TARGETS } from "../e2e-plan.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fake deploy platforms, e.g. "http://127.0.0.1:41234". */
    platformsUrl: string;
    /** The end-to-end targets (test/workers/e2e-plan.ts), registered before the Worker starts. */
    e2eTargets: FakeTargetSetup[];
  }
}

/** Starts the fake platforms and provides their URL; the returned teardown stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fake = await startFakePlatforms();
  project.provide("platformsUrl", fake.baseUrl);
  project.provide(
    "e2eTargets",
    E2E_TARGETS.map((t) => fake.target(t.kind, t.name, t.options)),
  );
  return () => fake.close();
}
