/** @jsxImportSource hono/jsx */
/**
 * `GET /ui/incidents`: every project's incidents, newest first, filtered by state and cluster and
 * paged with `before` — the same query and ledger call as `GET /incidents`.
 */
import type { Context } from "hono";
import { INCIDENT_STATES } from "../../incident/view.ts";
import { listQuery } from "../routes/incidents.ts";
import type { DashboardEnv } from "./env.ts";
import { incidentPath, STATE_LABEL, stateClass, utc } from "./format.ts";
import { Layout } from "./layout.tsx";

const PAGE = 25;

export async function incidentsPage(c: Context<DashboardEnv>) {
  const raw = c.req.query();
  const parsed = listQuery.safeParse({
    state: raw.state || undefined,
    cluster: raw.cluster?.trim() || undefined,
    before: raw.before || undefined,
    limit: raw.limit || PAGE,
  });
  const query = parsed.success ? parsed.data : { limit: PAGE };
  const page = await c.var.ledgers.list(query);
  const next = page.length === query.limit ? page.at(-1)!.id : null;
  const keep = new URLSearchParams();
  if (query.state) keep.set("state", query.state);
  if (query.cluster) keep.set("cluster", query.cluster);
  const nextHref = next ? `/ui/incidents?${new URLSearchParams([...keep, ["before", next]])}` : null;
  return c.html(
    <Layout title="Incidents" current="incidents" csrf={c.var.csrf}>
      <h1>Incidents</h1>
      {!parsed.success && (
        <p class="error" role="alert">
          Some filters were not understood and were ignored.
        </p>
      )}
      <form class="filters" method="get" action="/ui/incidents" aria-label="Filter incidents">
        <div>
          <label for="state">State</label>
          <select id="state" name="state">
            <option value="">Any state</option>
            {INCIDENT_STATES.map((s) => (
              <option value={s} selected={query.state === s}>
                {STATE_LABEL[s]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="cluster">Cluster</label>
          <input id="cluster" name="cluster" type="text" maxlength={128} value={query.cluster ?? ""} />
        </div>
        <button type="submit">Filter</button>
      </form>
      {page.length === 0 ? (
        <p>No incidents match.</p>
      ) : (
        <table>
          <caption class="muted">Newest first</caption>
          <thead>
            <tr>
              <th scope="col">Opened</th>
              <th scope="col">Cluster</th>
              <th scope="col">State</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {page.map((i) => (
              <tr>
                <td>
                  <a href={incidentPath(i.id)}>{utc(i.openedAt)}</a>
                </td>
                <td>
                  {i.cluster.name} <span class="muted">({i.cluster.groupId})</span>
                </td>
                <td>
                  <span class={stateClass(i.state)}>{STATE_LABEL[i.state]}</span>
                </td>
                <td>{utc(i.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {query.before && <a href={`/ui/incidents${keep.size ? `?${keep}` : ""}`}>Newest</a>}
        {nextHref && <a href={nextHref}>Older</a>}
      </nav>
    </Layout>,
  );
}
