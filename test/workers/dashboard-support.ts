/** Drivers for the dashboard's workerd tests: logging in, reading a page's form fields. */
import { exports } from "cloudflare:workers";
import { TEST_SECRETS } from "./bindings.ts";
import { BASE } from "./support.ts";

let clients = 0;
/** A fresh client address, so each test has its own login back-off. */
export function freshIp(): string {
  clients = (clients % 250) + 1;
  return `203.0.113.${clients}`;
}

export function page(path: string, init: RequestInit = {}, base = BASE): Promise<Response> {
  return exports.default.fetch(new Request(`${base}${path}`, { redirect: "manual", ...init }));
}

export function postForm(
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
  base = BASE,
): Promise<Response> {
  return page(
    path,
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    },
    base,
  );
}

export function tryLogin(token: string, ip = freshIp(), base = BASE): Promise<Response> {
  return postForm("/login", { token, next: "/" }, { "cf-connecting-ip": ip }, base);
}

/** Logs in with the test token; answers the `Cookie` header value to send. */
export async function loginCookie(): Promise<string> {
  const response = await tryLogin(TEST_SECRETS.ADMIN_TOKEN);
  if (response.status !== 303) throw new Error(`login answered ${response.status}`);
  const cookie = response.headers.getSetCookie()[0];
  if (!cookie) throw new Error("login set no cookie");
  return cookie.split(";")[0]!;
}

/** The value of a hidden field in a page. */
export function field(html: string, name: string): string | undefined {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return match?.[1]?.replace(/&quot;/g, '"').replace(/&amp;/g, "&");
}
