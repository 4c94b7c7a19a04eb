/**
 * Import rules checked by `npm run lint` (its `lint:cycles` step). Each rule says why it exists.
 *
 * The parser is swc (`@swc/core`): it reads TypeScript source as written, so `import type` counts
 * like any other import. dependency-cruiser's other TypeScript parser needs the classic compiler
 * API, which the project's TypeScript 7 package does not ship.
 * Checked over src/, scripts/ and test/ (the folder rule over src/ only). `npm run -s lint:cycles`
 * alone runs just these rules.
 */

const options = {
  parser: "swc",
  // Folder cycles are computed from the folder metrics.
  metrics: true,
  doNotFollow: { path: "(^|/)node_modules/" },
  // Doctor's fixture apps are sample apps to analyse, not part of the project.
  exclude: { path: "^(dist|\\.wrangler|test/fixtures/doctor)/" },
  // Resolve package subpaths (`hono/factory`) through their `exports` map.
  enhancedResolveOptions: {
    exportsFields: ["exports"],
    conditionNames: ["import", "node", "default"],
    extensions: [".ts", ".js", ".mjs", ".json"],
  },
};

export default {
  forbidden: [
    {
      // A file cycle means neither file can be read, tested or loaded on its own, and a value import
      // in one can see the other half-initialised. Type-only imports count too: a type cycle is the
      // same tangle of responsibilities, and it becomes a runtime cycle the day a value joins it.
      name: "no-file-cycle",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      // The top-level folders of src/ are layers (config, atlas, stats, slack, …). Two folders that
      // import each other are one module split across two places, even when no single file cycle
      // exists (a → b in one pair of files, b → a in another). `$1` is the folder an import leaves,
      // so cycles inside one folder (http ↔ http/routes) are left to the file rule above.
      name: "no-folder-cycle",
      scope: "folder",
      severity: "error",
      from: { path: "^src/([^/]+)" },
      to: { pathNot: "^src/$1(/|$)", circular: true },
    },
    {
      // One file owns the MongoDB driver, its short-lived client and its error classes, so how the
      // responder connects and how driver errors read is decided in one place; the rest stays pure.
      name: "mongodb-driver-in-one-file",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/stats/mongo-source\\.ts$" },
      to: { path: "(^|/)node_modules/mongodb/" },
    },
    {
      // Doctor (Step 9) is a Node tool that reads an app's source; the Worker never ships it, nor
      // its parser. Only its own files and the CLI tests reach it.
      name: "doctor-stays-out-of-the-worker",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/doctor/" },
      to: { path: "^src/doctor/|(^|/)node_modules/(@babel/parser|diff)/" },
    },
  ],
  options,
};
