/**
 * The simulated world the sandbox runs: the fakes in the top-level fakes/ folder, which the tests
 * use too and the Worker never imports. Every import of them goes through this file.
 */
export { type FakeAtlas, startFakeAtlas } from "../fakes/atlas-api.ts";
export { type LeakyApp, spawnLeakyApp } from "../fakes/leaky-app-process.ts";
export { type FakeMongo, startFakeMongo } from "../fakes/mongo-server.ts";
export { type FakePlatforms, startFakePlatforms } from "../fakes/platforms.ts";
export { type FakeSlack, type FakeSlackMessage, startFakeSlack } from "../fakes/slack.ts";
