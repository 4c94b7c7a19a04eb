/** `GET /incidents` and `GET /incidents/:id`: the ledger, read-only, for operators. */
import { Hono } from "hono";
import * as z from "zod";
import { DEFAULT_INCIDENT_PAGE, MAX_INCIDENT_PAGE } from "../../constants.ts";
import { parseIncidentId } from "../../incident/ids.ts";
import { INCIDENT_STATES } from "../../incident/record.ts";
import type { AppEnv } from "../app-env.ts";
import { issuesOf, jsonError } from "../errors.ts";

/** The list's filters and paging; the dashboard's incident list reads the same query. */
export const listQuery = z.object({
  state: z.enum(INCIDENT_STATES).optional(),
  cluster: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_INCIDENT_PAGE).default(DEFAULT_INCIDENT_PAGE),
  before: z
    .string()
    .refine((id) => parseIncidentId(id) !== null, "must be an incident id")
    .optional(),
});

export const incidents = new Hono<AppEnv>()
  .get("/", async (c) => {
    const parsed = listQuery.safeParse(c.req.query());
    if (!parsed.success) return jsonError(c, 400, "invalid query", { issues: issuesOf(parsed.error) });
    const query = parsed.data;
    const page = await c.var.ledgers.list(query);
    const next = page.length === query.limit ? page[page.length - 1]!.id : null;
    return c.json({ incidents: page, next });
  })
  .get("/:id", async (c) => {
    const id = c.req.param("id");
    const parsed = parseIncidentId(id);
    if (!parsed) return jsonError(c, 404, "not found");
    const incident = await c.var.ledgers.get(parsed.groupId, id);
    if (!incident) return jsonError(c, 404, "not found");
    return c.json(incident);
  });
