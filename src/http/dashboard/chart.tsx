/** @jsxImportSource hono/jsx */
/**
 * The 24-hour connection chart: inline SVG, no script. Usage is drawn as a percentage of the
 * limit, so the action threshold (POLICY.actAtPercent) and the limit are straight lines. A sample
 * without figures is a gap: the line stops there and a grey band marks it, rather than a line drawn
 * across the outage. Incidents opened in the window are marked with a vertical line that links to
 * them. The SVG has a text summary for screen readers.
 */
import type { Sample } from "../../incident/samples.ts";
import { incidentPath, percent, utc } from "./format.ts";

export const CHART_WINDOW_MS = 24 * 3600_000;

const W = 640;
const H = 180;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };

export interface ChartInput {
  cluster: string;
  samples: Sample[];
  incidents: { id: string; openedAt: string; state: string }[];
  actAtPercent: number;
  now: number;
}

/** Splits samples into runs of readings; a gap sample (or a missing percent) ends a run. */
export function runs(samples: readonly Sample[]): { runs: { t: number; p: number }[][]; gaps: number[] } {
  const out: { t: number; p: number }[][] = [];
  const gaps: number[] = [];
  let run: { t: number; p: number }[] = [];
  for (const s of samples) {
    const t = Date.parse(s.at);
    if (Number.isNaN(t)) continue;
    const p = s.percent ?? (s.current !== null && s.limit ? (s.current / s.limit) * 100 : null);
    if (p === null || !Number.isFinite(p)) {
      gaps.push(t);
      if (run.length) out.push(run);
      run = [];
    } else run.push({ t, p });
  }
  if (run.length) out.push(run);
  return { runs: out, gaps };
}

export function ConnectionChart(props: ChartInput) {
  const from = props.now - CHART_WINDOW_MS;
  const { runs: lines, gaps } = runs(props.samples.filter((s) => Date.parse(s.at) >= from));
  const top = Math.max(100, ...lines.flat().map((r) => r.p)) * 1.05;
  const x = (t: number) => PAD.left + ((t - from) / CHART_WINDOW_MS) * (W - PAD.left - PAD.right);
  const y = (p: number) => PAD.top + (1 - p / top) * (H - PAD.top - PAD.bottom);
  const fmt = (n: number) => n.toFixed(1);
  const readings = lines.flat();
  const last = readings.at(-1);
  const summary = readings.length
    ? `Connections of ${props.cluster} over the last 24 hours: ${readings.length} readings, ${gaps.length} gaps, latest ${percent(last!.p)} of the limit; the action threshold is ${percent(props.actAtPercent)}.`
    : `No connection readings of ${props.cluster} in the last 24 hours.`;
  const marks = props.incidents
    .map((i) => ({ ...i, t: Date.parse(i.openedAt) }))
    .filter((i) => i.t >= from && i.t <= props.now);
  const slot = (W - PAD.left - PAD.right) / 96;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} xmlns="http://www.w3.org/2000/svg">
        <title>{summary}</title>
        {[0, 25, 50, 75, 100].map((p) => (
          <g>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={fmt(y(p))} y2={fmt(y(p))} />
            <text x={PAD.left - 4} y={fmt(y(p) + 4)} text-anchor="end">{`${p}%`}</text>
          </g>
        ))}
        {gaps.map((t) => (
          <rect
            class="gap"
            x={fmt(x(t) - slot / 2)}
            y={PAD.top}
            width={fmt(slot)}
            height={H - PAD.top - PAD.bottom}
          >
            <title>{`No data at ${utc(new Date(t).toISOString())}`}</title>
          </rect>
        ))}
        <line class="limit" x1={PAD.left} x2={W - PAD.right} y1={fmt(y(100))} y2={fmt(y(100))} />
        <line
          class="threshold"
          x1={PAD.left}
          x2={W - PAD.right}
          y1={fmt(y(props.actAtPercent))}
          y2={fmt(y(props.actAtPercent))}
        />
        <text x={W - PAD.right} y={fmt(y(props.actAtPercent) - 4)} text-anchor="end">
          {`act at ${props.actAtPercent}%`}
        </text>
        {lines.map((run) =>
          run.length === 1 ? (
            <circle class="dot" cx={fmt(x(run[0]!.t))} cy={fmt(y(run[0]!.p))} r="2" />
          ) : (
            <polyline class="line" points={run.map((r) => `${fmt(x(r.t))},${fmt(y(r.p))}`).join(" ")} />
          ),
        )}
        {marks.map((m) => (
          <a href={incidentPath(m.id)}>
            <line class="incident" x1={fmt(x(m.t))} x2={fmt(x(m.t))} y1={PAD.top} y2={H - PAD.bottom} />
            <title>{`Incident ${m.id} (${m.state}) opened ${utc(m.openedAt)}`}</title>
          </a>
        ))}
        {readings.length === 0 && (
          <text x={W / 2} y={H / 2} text-anchor="middle">
            No readings in the last 24 hours
          </text>
        )}
        <text x={PAD.left} y={H - 6}>
          24 h ago
        </text>
        <text x={W - PAD.right} y={H - 6} text-anchor="end">
          now
        </text>
      </svg>
      <figcaption class="muted">
        Blue: connections as % of the limit · dashed red: action threshold · brown: incidents · grey: no data
      </figcaption>
    </figure>
  );
}
