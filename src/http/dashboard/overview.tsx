/** @jsxImportSource hono/jsx */
/**
 * `GET /`: every cluster — configured in CLUSTERS or seen in alerts — with a gauge of its latest
 * reading (current / limit, the percentage and a word beside the colour), its 24-hour chart with the
 * action threshold and its incidents, its tier, and which sources gave the last reading.
 */
import type { Context } from "hono";
import type { ClusterOverview } from "../../incident/samples.ts";
import { CHART_WINDOW_MS, ConnectionChart } from "./chart.tsx";
import type { DashboardEnv } from "./env.ts";
import { incidentPath, int, level, percent, STATE_LABEL, stateClass, utc } from "./format.ts";
import { Layout } from "./layout.tsx";

/** How many recent incidents the overview reads for its marks and lists. */
const RECENT = 200;

const clusterKey = (groupId: string, name: string) => `${groupId.toLowerCase()}/${name}`;

function Gauge(props: { latest: ClusterOverview["latest"]; actAt: number }) {
  const l = props.latest;
  const lv = level(l?.percent, props.actAt);
  if (!l || l.current === null) {
    return (
      <p class="gauge">
        <span class={lv.cls}>No reading yet</span>
      </p>
    );
  }
  const max = l.limit ?? Math.max(l.current, 1);
  return (
    <p class="gauge">
      <meter
        min={0}
        max={max}
        value={l.current}
        low={(max * props.actAt * 0.75) / 100}
        high={(max * props.actAt) / 100}
        optimum={0}
        aria-label="Connections against the limit"
      />
      <span>
        <strong>{l.limit === null ? int(l.current) : `${int(l.current)} / ${int(l.limit)}`}</strong>
        {l.percent === null ? " (limit unknown)" : ` · ${percent(l.percent)}`}{" "}
        <span class={lv.cls}>({lv.word})</span>
      </span>
    </p>
  );
}

export async function overviewPage(c: Context<DashboardEnv>) {
  const now = Date.now();
  const since = new Date(now - CHART_WINDOW_MS).toISOString();
  const ledgers = c.var.ledgers;
  const [recent, clusters] = await Promise.all([ledgers.list({ limit: RECENT }), ledgers.overview()]);
  clusters.sort((a, b) => a.name.localeCompare(b.name) || a.groupId.localeCompare(b.groupId));
  const samples = await Promise.all(clusters.map((cl) => ledgers.samples(cl.groupId, cl.name, since)));
  const actAt = c.var.config.policy.actAtPercent;
  const waiting = recent.filter((i) => i.state === "awaiting-approval");
  return c.html(
    <Layout title="Clusters" current="overview" csrf={c.var.csrf}>
      <h1>Clusters</h1>
      {waiting.length > 0 && (
        <section class="card" aria-labelledby="waiting-title">
          <h2 id="waiting-title">Awaiting approval</h2>
          <ul>
            {waiting.map((i) => (
              <li>
                <a href={incidentPath(i.id)}>{i.cluster.name}</a> — opened {utc(i.openedAt)}
              </li>
            ))}
          </ul>
        </section>
      )}
      {clusters.length === 0 && <p>No cluster is configured in CLUSTERS and no alert has arrived yet.</p>}
      <div class="cards">
        {clusters.map((cl, n) => {
          const mine = recent.filter(
            (i) => clusterKey(i.cluster.groupId, i.cluster.name) === clusterKey(cl.groupId, cl.name),
          );
          const headingId = `cluster-${n}`;
          return (
            <section class="card" aria-labelledby={headingId}>
              <h2 id={headingId}>{cl.name}</h2>
              <dl class="facts">
                <dt>Project</dt>
                <dd>
                  <code>{cl.groupId}</code>
                </dd>
                <dt>Tier</dt>
                <dd>{cl.tier ?? cl.latest?.tier ?? "unknown"}</dd>
                <dt>Watched</dt>
                <dd>{cl.configured ? "yes (in CLUSTERS)" : "no (seen in alerts only)"}</dd>
                <dt>Last reading</dt>
                <dd>{cl.latest ? utc(cl.latest.at) : "none"}</dd>
                <dt>Sources</dt>
                <dd>
                  {cl.latest?.sources.length
                    ? cl.latest.sources.map((s, k) => (
                        <span>
                          {k > 0 && ", "}
                          {s.name}: {s.ok ? "ok" : `failed${s.error ? ` (${s.error})` : ""}`}
                        </span>
                      ))
                    : "none"}
                </dd>
              </dl>
              <Gauge latest={cl.latest} actAt={actAt} />
              <ConnectionChart
                cluster={cl.name}
                samples={samples[n] ?? []}
                incidents={mine}
                actAtPercent={actAt}
                now={now}
              />
              {mine.length > 0 && (
                <p>
                  Latest incident: <a href={incidentPath(mine[0]!.id)}>{utc(mine[0]!.openedAt)}</a>{" "}
                  <span class={stateClass(mine[0]!.state)}>{STATE_LABEL[mine[0]!.state]}</span> ·{" "}
                  <a
                    href={`/ui/incidents?cluster=${encodeURIComponent(cl.name)}`}
                  >{`All incidents of ${cl.name}`}</a>
                </p>
              )}
            </section>
          );
        })}
      </div>
    </Layout>,
  );
}
