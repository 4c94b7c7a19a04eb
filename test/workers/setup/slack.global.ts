/**
 * Vitest global setup (runs in Node, once per run): starts the fake Slack (fakes/slack.ts) and
 * provides its URLs and test credentials, because code inside workerd cannot start a server.
 *
 * Workerd tests drive it over HTTP under `${slack.baseUrl}/__control/`: `POST channels {name}` for a
 * channel of their own, `GET messages?channel=`, `GET history?ts=` (every version plus what a reader
 * sees), `POST fail-next {method, fault, times?, channel?}`, `POST interaction {ts, actionId, user?,
 * value?, timestamp?}` for a signed `block_actions` request to send to `/slack/actions`, `GET calls`.
 *
 * Trade-off: one fake for the whole run, shared by every test file. Posts are rate limited per
 * channel and faults can be scoped to a channel, so files stay independent as long as each uses its
 * own channel names.
 */
import type { TestProject } from "vitest/node";
import { startFakeSlack } from "../../../fakes/slack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The fake Slack: SLACK_API_BASE_URL is `apiBaseUrl`; the values are test-only. */
    slack: {
      /** e.g. "http://127.0.0.1:41236"; control API under /__control/. */
      baseUrl: string;
      apiBaseUrl: string;
      token: string;
      signingSecret: string;
      webhookUrl: string;
    };
  }
}

/** Test-only credentials for the fake; distinctive, so a test can prove they never leak. */
export const FAKE_SLACK_CREDENTIALS = {
  token: "xoxb-0000000000-fake-workers-test-7c1d",
  signingSecret: "fake-slack-signing-secret-workers-3e8a",
  webhookSecret: "fakewebhooksecretworkers5b2f",
} as const;

/** Starts the fake Slack and provides its URLs and credentials; the returned teardown stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fake = await startFakeSlack({ ...FAKE_SLACK_CREDENTIALS, channels: ["incidents"] });
  project.provide("slack", {
    baseUrl: fake.baseUrl,
    apiBaseUrl: fake.apiBaseUrl,
    token: fake.token,
    signingSecret: fake.signingSecret,
    webhookUrl: fake.webhookUrl,
  });
  return () => fake.close();
}
