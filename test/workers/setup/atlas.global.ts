/**
 * Vitest global setup (runs in Node, once per run) for workerd tests that talk to the Atlas Admin API:
 * starts one fake Atlas (fakes/atlas-api.ts) on 127.0.0.1 and provides its base URL and
 * credentials, because code inside workerd cannot start a server.
 *
 * Trade-off: one fake shared by every workerd test file. Files stay apart by creating their own project
 * through the fake's control API and filtering the request log by that project; faults match on a
 * path that names the project, so one file's fault never hits another's request.
 *
 * Use from a workerd test (read with `inject("atlasApiUrl")` / `inject("atlasCredentials")` from "vitest"):
 *   POST `${atlasApiUrl}/__fake/projects` {clusters: [{name: "Cluster0", tier: "M0"}]} → {groupId, clusters}
 *   then point `createAtlasAdminClient({ fetch, baseUrl: atlasApiUrl, auth })` at it; the rest of the
 *   control API (faults, connections, history, request log) is listed in fakes/atlas-api.ts.
 */
import type { TestProject } from "vitest/node";
import { type FakeApiKey, type FakeServiceAccount, startFakeAtlas } from "../../../fakes/atlas-api.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fake Atlas Admin API, e.g. "http://127.0.0.1:41235" (control API under /__fake/). */
    atlasApiUrl: string;
    /** Credentials the fake accepts. Test-only values, distinctive so a test can prove they never leak. */
    atlasCredentials: { serviceAccount: FakeServiceAccount; apiKey: FakeApiKey };
  }
}

/** Test-only credentials for the fake; never real ones. */
export const FAKE_ATLAS_CREDENTIALS = {
  serviceAccount: { clientId: "mdb_sa_id_workers_test", clientSecret: "mdb_sa_sk_workers-7f3e9a1c5b" },
  apiKey: { publicKey: "wrkpubky", privateKey: "5b1c0e7e-priv-key-workers-test" },
} as const;

/** Starts the fake Atlas and provides its URL and credentials; the returned teardown stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fake = await startFakeAtlas({
    serviceAccounts: [{ ...FAKE_ATLAS_CREDENTIALS.serviceAccount }],
    apiKeys: [{ ...FAKE_ATLAS_CREDENTIALS.apiKey }],
  });
  project.provide("atlasApiUrl", fake.baseUrl);
  project.provide("atlasCredentials", {
    serviceAccount: { ...FAKE_ATLAS_CREDENTIALS.serviceAccount },
    apiKey: { ...FAKE_ATLAS_CREDENTIALS.apiKey },
  });
  return () => fake.close();
}
