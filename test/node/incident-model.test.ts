/**
 * Model-based tests of the incident core (fast-check): random interleavings of deliveries, alarms
 * that fail at any step, human decisions, mode switches and clock moves, with every invariant
 * checked after each command and once the world has drained. Fixed seed and a bounded number of
 * runs here; `MODEL_RUNS=5000` runs longer.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type Command,
  type Interleaved,
  MODES,
  ModelWorld,
  type WorldSpec,
} from "../support/incident-model.ts";

const RUNS = Number(process.env.MODEL_RUNS ?? 300);
const SEED = Number(process.env.MODEL_SEED ?? 2026);
const MINUTE = 60_000;

const cluster = fc.constantFrom(0 as const, 1 as const);
const mode = fc.constantFrom(...MODES, "auto", "approve");

const deliver = fc.record({
  t: fc.constant("deliver" as const),
  cluster,
  rs: fc.boolean(),
  alert: fc.constantFrom(0 as const, 1 as const),
  kind: fc.constantFrom(
    "open",
    "open",
    "update",
    "close",
    "cancel",
    "ack",
    "dup",
    "dup",
    "stale",
    "other-metric" as const,
  ),
});
const decide = fc.record({
  t: fc.constant("decide" as const),
  pick: fc.nat({ max: 7 }),
  decision: fc.constantFrom("approve", "approve", "skip", "snooze" as const),
  allowed: fc.constantFrom(true, true, true, false),
  requested: fc.constantFrom("current", "omitted", "stale" as const),
  double: fc.boolean(),
});
const trigger = fc.record({ t: fc.constant("trigger" as const), cluster, dryRun: fc.boolean() });
const modeSwitch = fc.record({
  t: fc.constant("mode" as const),
  cluster: fc.constantFrom(0 as const, 1 as const, "all" as const),
  mode,
});
const load = fc.record({
  t: fc.constant("load" as const),
  cluster,
  level: fc.constantFrom("high", "high", "low", "down" as const),
});
const interleaved: fc.Arbitrary<Interleaved> = fc.oneof(deliver, decide, trigger, load);

export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: deliver },
  { weight: 1, arbitrary: fc.constant({ t: "renotify" as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("recover" as const), cluster }) },
  { weight: 4, arbitrary: fc.constant({ t: "alarm" as const }) },
  { weight: 5, arbitrary: fc.constant({ t: "wake" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("clock" as const),
      ms: fc.constantFrom(
        1000,
        30_000,
        MINUTE,
        2 * MINUTE,
        3 * MINUTE,
        6 * MINUTE,
        11 * MINUTE,
        31 * MINUTE,
        61 * MINUTE,
        25 * 60 * MINUTE,
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("fault" as const),
      after: fc.integer({ min: 1, max: 24 }),
      times: fc.constantFrom(1, 1, 1, 3, 8),
      kind: fc.constantFrom("throw", "lost", "lost-throw", "crash" as const),
      scope: fc.constantFrom("store", "outbound", "any" as const),
    }),
  },
  { weight: 4, arbitrary: decide },
  { weight: 2, arbitrary: modeSwitch },
  { weight: 2, arbitrary: load },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("platform" as const),
      answer: fc.constantFrom("started", "started", "failed", "unknown" as const),
      deploying: fc.constantFrom(false, false, true),
      fixes: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: trigger },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("watch" as const), cluster }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("during" as const),
      after: fc.integer({ min: 1, max: 8 }),
      request: interleaved,
    }),
  },
);

export const spec: fc.Arbitrary<WorldSpec> = fc.record({
  mode,
  cooldownMinutes: fc.constantFrom(0, 5, 30),
  maxRedeploysPerIncident: fc.constantFrom(1, 2),
  maxActionsPerHour: fc.constantFrom(1, 2, 6),
  verifyAfterSeconds: fc.constantFrom([60, 180], [30]),
  prodOwned: fc.constantFrom(true, true, false),
});

describe("the incident core under random interleavings", () => {
  it(
    "keeps every invariant after each command, and every incident comes to rest where a person can act",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          spec,
          fc.array(command, { minLength: 10, maxLength: 80, size: "max" }),
          async (s, commands) => {
            const world = new ModelWorld(s);
            for (const c of commands) {
              await world.apply(c);
              world.check();
            }
            await world.drain();
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    },
    Math.max(60_000, RUNS * 100),
  );
});
