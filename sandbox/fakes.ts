/**
 * The simulated world the sandbox runs: the fakes it shares with the tests. Every import of them
 * goes through this file, so moving them to their own folder is one edit here.
 */
export { type FakeAtlas, startFakeAtlas } from "../test/fakes/atlas-api.ts";
export { type LeakyApp, spawnLeakyApp } from "../test/fakes/leaky-app-process.ts";
export { type FakeMongo, startFakeMongo } from "../test/fakes/mongo-server.ts";
export { type FakePlatforms, startFakePlatforms } from "../test/fakes/platforms.ts";
export { type FakeSlack, type FakeSlackMessage, startFakeSlack } from "../test/fakes/slack.ts";
