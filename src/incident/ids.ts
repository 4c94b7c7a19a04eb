/**
 * Incident ids: `<groupId>-<opened-at base36><random>`.
 *
 * The project id up front lets `GET /incidents/:id` go straight to the ledger that holds it; the
 * fixed-width time part makes ids sort by opening time across every project, which is what paging
 * through `GET /incidents` needs. Nothing in an id is secret.
 */

const TIME_WIDTH = 9; // base36 milliseconds stay 9 characters wide until the year 5188
const RANDOM_WIDTH = 6;
const ID_PATTERN = /^([0-9a-f]{1,64})-([0-9a-z]{15})$/;

/** A new incident id for `groupId`, opened at `at`. */
export function newIncidentId(groupId: string, at: Date): string {
  const time = at.getTime().toString(36).padStart(TIME_WIDTH, "0");
  const bytes = crypto.getRandomValues(new Uint8Array(RANDOM_WIDTH));
  const random = Array.from(bytes, (b) => (b % 36).toString(36)).join("");
  return `${groupId.toLowerCase()}-${time}${random}`;
}

/** Splits an id into its project and sort key; null for anything that is not an incident id. */
export function parseIncidentId(id: string): { groupId: string; sortKey: string } | null {
  const match = ID_PATTERN.exec(id);
  return match ? { groupId: match[1]!, sortKey: match[2]! } : null;
}

/** Newest first: compares two ids by opening time, then by their random tail. */
export function compareNewestFirst(a: string, b: string): number {
  const ka = parseIncidentId(a)?.sortKey ?? "";
  const kb = parseIncidentId(b)?.sortKey ?? "";
  return ka < kb ? 1 : ka > kb ? -1 : a < b ? 1 : a > b ? -1 : 0;
}
