/** @jsxImportSource hono/jsx */
/**
 * The page frame: landmarks (header with the navigation, main), the stylesheet, and the logout
 * form. Every page renders inside it; nothing here comes from an alert.
 */
import type { Child } from "hono/jsx";
import { CSRF_FIELD } from "./csrf.ts";
import { STYLESHEET_PATH } from "./styles.ts";

export interface Frame {
  title: string;
  /** The navigation entry to mark as current. */
  current?: "overview" | "incidents";
  /** Present once logged in: the logout form needs it. */
  csrf?: string;
}

export function Layout(props: Frame & { children?: Child }) {
  const nav = (key: Frame["current"], href: string, label: string) => (
    <li>
      <a href={href} aria-current={props.current === key ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} · atlas-responder`}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">
            atlas-responder
          </a>
          {props.csrf !== undefined && (
            <nav aria-label="Main">
              <ul>
                {nav("overview", "/", "Clusters")}
                {nav("incidents", "/ui/incidents", "Incidents")}
              </ul>
            </nav>
          )}
          {props.csrf !== undefined && (
            <form method="post" action="/logout">
              <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
              <button type="submit">Log out</button>
            </form>
          )}
        </header>
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}
