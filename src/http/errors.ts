/**
 * Every error the HTTP layer answers, as JSON. Bodies are fixed strings or validation issues built
 * from paths and schema messages: never a stack, an input value, a secret or a connection string.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type * as z from "zod";

export interface Issue {
  path: string;
  message: string;
}

/** Formats zod issues as `[{ path: "currentValue.number", message }]`. */
export function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

export function jsonError(
  c: Context,
  status: ContentfulStatusCode,
  error: string,
  extra: Record<string, unknown> = {},
) {
  return c.json({ error, ...extra }, status);
}

export function invalidPayload(c: Context, issues: Issue[]) {
  return jsonError(c, 400, "invalid payload", { issues });
}
