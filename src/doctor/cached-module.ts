/**
 * The text of the one cached-client module the patch adds, in the app's language (TypeScript or
 * JavaScript) and module style (ESM or CommonJS). The client lives on `globalThis`, so hot reload
 * in development reuses it instead of opening another pool; the pool is small (5), idle sockets
 * close, the app is named, and on Vercel the pool is attached so suspended functions release it.
 */

export interface ModuleStyle {
  typescript: boolean;
  esm: boolean;
}

export interface CachedModuleSpec extends ModuleStyle {
  /** Driver exports (getMongoClient, connectToDatabase) under these names, or null. */
  driver: { get: string; connect: string } | null;
  /** Mongoose exports (connect, createConnection) under these names, or null. */
  mongoose: { connect: string | null; connection: string | null } | null;
  vercel: boolean;
  appName: string;
  idleMs: number;
  envName: string;
}

/** The module's source text. */
export function cachedModuleSource(spec: CachedModuleSpec): string {
  const ts = spec.typescript;
  const t = (type: string) => (ts ? type : "");
  const imports: Array<[string, string, boolean]> = [];
  if (spec.driver) imports.push(["MongoClient", "mongodb", false]);
  if (spec.mongoose) imports.push(["mongoose", "mongoose", true]);
  if (spec.vercel) imports.push(["attachDatabasePool", "@vercel/functions", false]);
  const head = imports.map(([name, from, isDefault]) =>
    spec.esm
      ? `import ${isDefault ? name : `{ ${name} }`} from "${from}";`
      : `const ${isDefault ? name : `{ ${name} }`} = require("${from}");`,
  );
  const cacheFields: string[] = [];
  if (spec.driver)
    cacheFields.push("_mongoClient?: MongoClient;", "_mongoClientPromise?: Promise<MongoClient>;");
  if (spec.mongoose?.connect) cacheFields.push("_mongoose?: Promise<typeof mongoose>;");
  if (spec.mongoose?.connection) cacheFields.push("_mongooseConnection?: mongoose.Connection;");
  const exportFn = spec.esm ? "export function" : "function";
  const lines = [
    "/**",
    " * One MongoDB pool per process, shared by every module that talks to the database. It is kept on",
    " * globalThis so that hot reload in development reuses it instead of opening another pool.",
    " */",
    ...head,
    "",
    `const options = { maxPoolSize: 5, maxIdleTimeMS: ${spec.idleMs}, appName: ${JSON.stringify(spec.appName)} };`,
    "",
    ts
      ? `const cache = globalThis as typeof globalThis & {\n${cacheFields.map((f) => `  ${f}`).join("\n")}\n};`
      : "const cache = globalThis;",
    "",
    `function connectionString()${t(": string")} {`,
    `  const uri = process.env.${spec.envName};`,
    `  if (!uri) throw new Error("${spec.envName} is not set");`,
    "  return uri;",
    "}",
  ];
  const exported: string[] = [];
  if (spec.driver) {
    const { get, connect } = spec.driver;
    exported.push(get, connect);
    lines.push(
      "",
      "/** The shared client; the driver connects it on first use. */",
      `${exportFn} ${get}()${t(": MongoClient")} {`,
      "  if (!cache._mongoClient) {",
      "    cache._mongoClient = new MongoClient(connectionString(), options);",
      ...(spec.vercel ? ["    attachDatabasePool(cache._mongoClient);"] : []),
      "  }",
      "  return cache._mongoClient;",
      "}",
      "",
      "/** The shared client, connected; a failed connection is retried on the next call. */",
      `${exportFn} ${connect}()${t(": Promise<MongoClient>")} {`,
      "  if (!cache._mongoClientPromise) {",
      `    cache._mongoClientPromise = ${get}()`,
      "      .connect()",
      `      .catch((error${t(": unknown")}) => {`,
      "        cache._mongoClientPromise = undefined;",
      "        throw error;",
      "      });",
      "  }",
      "  return cache._mongoClientPromise;",
      "}",
    );
  }
  if (spec.mongoose?.connect) {
    const name = spec.mongoose.connect;
    exported.push(name);
    lines.push(
      "",
      "/** Mongoose's default connection, opened once; a failed connection is retried on the next call. */",
      `${exportFn} ${name}()${t(": Promise<typeof mongoose>")} {`,
      "  if (!cache._mongoose) {",
      "    cache._mongoose = mongoose",
      "      .connect(connectionString(), options)",
      ...(spec.vercel
        ? [
            "      .then((connected) => {",
            "        attachDatabasePool(connected.connection.getClient());",
            "        return connected;",
            "      })",
          ]
        : []),
      `      .catch((error${t(": unknown")}) => {`,
      "        cache._mongoose = undefined;",
      "        throw error;",
      "      });",
      "  }",
      "  return cache._mongoose;",
      "}",
    );
  }
  if (spec.mongoose?.connection) {
    const name = spec.mongoose.connection;
    exported.push(name);
    lines.push(
      "",
      "/** One extra mongoose connection for the whole process; define its models once, at module scope. */",
      `${exportFn} ${name}()${t(": mongoose.Connection")} {`,
      "  if (!cache._mongooseConnection) {",
      "    cache._mongooseConnection = mongoose.createConnection(connectionString(), options);",
      ...(spec.vercel ? ["    attachDatabasePool(cache._mongooseConnection.getClient());"] : []),
      "  }",
      "  return cache._mongooseConnection;",
      "}",
    );
  }
  if (!spec.esm) lines.push("", `module.exports = { ${exported.join(", ")} };`);
  return `${lines.join("\n")}\n`;
}
