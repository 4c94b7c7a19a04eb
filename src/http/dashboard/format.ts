/** Small text helpers shared by the pages: times, figures, levels. Plain strings; JSX escapes them. */

import type { IncidentState } from "../../incident/view.ts";
import { STATE_LABEL } from "../../slack/journal-view.ts";

export { STATE_LABEL };

/** "2026-05-01 14:03 UTC"; "?" for a missing or broken time. */
export function utc(iso: string | null | undefined): string {
  const t = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(t)) return "?";
  return `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "14:03:27". */
export function clock(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "--:--:--" : new Date(t).toISOString().slice(11, 19);
}

export const int = (n: number): string => Math.round(n).toLocaleString("en-US");

/** "86 %", "4.5 %". */
export const percent = (n: number): string => `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)} %`;

/** A reading's level against the action threshold, as a word and a class. */
export function level(pct: number | null | undefined, actAt: number): { word: string; cls: string } {
  if (pct === null || pct === undefined) return { word: "no data", cls: "level-none" };
  if (pct >= actAt) return { word: "over threshold", cls: "level-bad" };
  if (pct >= actAt * 0.75) return { word: "elevated", cls: "level-warn" };
  return { word: "normal", cls: "level-ok" };
}

export const stateClass = (state: IncidentState): string => `badge state-${state}`;

export const incidentPath = (id: string): string => `/ui/incidents/${encodeURIComponent(id)}`;
