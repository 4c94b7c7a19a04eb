/**
 * Verify: after an accepted action, read the stats at each of `POLICY.verifyAfterSeconds`. Below the
 * threshold → resolved; still high after the last read → plan again (the next target, or
 * escalation); never measured → escalated, since recovery cannot be claimed blind.
 */
import type { StepContext } from "./deps.ts";
import { assessmentDetail } from "./journal.ts";
import { measure } from "./measure.ts";
import type { IncidentRecord } from "./record.ts";
import { escalate, replan, resolve } from "./transitions.ts";

export async function verify(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const assessment = await measure(ctx, incident, false);
  const now = deps.now();
  const at = now.toISOString();
  const checks = deps.config.policy.verifyAfterSeconds;
  const threshold = deps.config.policy.actAtPercent;
  store.transaction(() => {
    const current = store.incident(incident.id);
    if (current?.phase !== "verify") return;
    if (assessment.current !== null) store.addReading(incident.clusterKey, assessment.at, assessment.current);
    const done = current.checksDone + 1;
    const recovered = assessment.percent !== null && assessment.percent < threshold;
    store.journal(incident.id, at, {
      step: "verify",
      status: assessment.percent === null ? "unmeasured" : recovered ? "recovered" : "still-high",
      detail: { check: done, of: checks.length, ...assessmentDetail(assessment) },
    });
    if (recovered)
      return resolve(store, current, at, assessment, { acted: true, changes: { checksDone: done } });
    if (done < checks.length) {
      const lastAction = store
        .actions(incident.id)
        .filter((a) => a.status === "started")
        .at(-1);
      const base = lastAction ? Date.parse(lastAction.at) : now.getTime();
      store.update(incident.id, at, {
        checksDone: done,
        nextRunAt: Math.max(now.getTime(), base + checks[done]! * 1000),
        last: assessment,
      });
      return;
    }
    if (assessment.percent === null) {
      return escalate(
        store,
        incident.id,
        at,
        "recovery could not be measured: no live stats source answered",
        {
          checksDone: done,
        },
      );
    }
    replan(store, incident.id, at, now.getTime(), { state: "open", last: assessment, checksDone: done });
  });
}
