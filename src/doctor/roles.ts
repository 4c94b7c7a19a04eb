/**
 * Which exports of a file run per call, from the file's place in the app: Next.js app-router route
 * handlers, pages and layouts, pages-router API routes and data functions, middleware, Vercel and
 * Netlify functions, and any exported `handler` (AWS Lambda); also the same roles in SvelteKit,
 * Remix / React Router, Nuxt (Nitro) and Astro. Server actions (`"use server"`) and Express-style
 * route registrations are found in the code itself (module-facts.ts).
 */

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const SOURCE = /\.(?:[cm]?[jt]s|[jt]sx)$/;

/** The export names of `file` (relative to the app, with `/`) that the platform calls per request. */
export function entryExportNames(file: string): string[] {
  const names = new Set(["handler"]);
  const segments = file.split("/");
  const base = (segments.at(-1) ?? "").replace(SOURCE, "");
  const dirs = segments.slice(0, -1);
  const under = (dir: string) => {
    const i = dirs.indexOf(dir);
    return i === 0 || (i === 1 && dirs[0] === "src");
  };
  if (under("app")) {
    if (base === "route") for (const m of HTTP_METHODS) names.add(m);
    if (base === "page" || base === "layout") names.add("default").add("generateMetadata");
  }
  if (under("pages")) {
    if (dirs.includes("api")) names.add("default");
    else names.add("getServerSideProps").add("getStaticProps").add("getInitialProps");
    // Astro endpoints.
    for (const m of [...HTTP_METHODS, "ALL"]) names.add(m);
  }
  // SvelteKit endpoints, server load functions, form actions and hooks.
  if (base === "+server") for (const m of [...HTTP_METHODS, "fallback"]) names.add(m);
  if (base === "+page.server" || base === "+layout.server") names.add("load").add("actions");
  if (base === "hooks.server") names.add("handle");
  // Remix / React Router route modules.
  if (under("app") && dirs.includes("routes")) names.add("loader").add("action");
  // Nuxt / Nitro server handlers.
  if (dirs[0] === "server" && ["api", "routes", "middleware"].includes(dirs[1] ?? "")) names.add("default");
  if ((dirs.length === 0 || (dirs.length === 1 && dirs[0] === "src")) && base === "middleware")
    names.add("middleware").add("default");
  if (dirs[0] === "api" || (dirs[0] === "netlify" && dirs[1] === "functions")) {
    names.add("default").add("fetch");
    for (const m of HTTP_METHODS) names.add(m);
  }
  return [...names];
}

/** Test files: their clients are the test's own business. */
export function isTestFile(file: string): boolean {
  return /(^|\/)(__tests__|__mocks__|tests?|e2e)\//.test(file) || /\.(test|spec)\.[^/]+$/.test(file);
}
