/** The configuration schema: defaults, both forms of structured entries, and errors that name keys only. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";

const BASE = { ATLAS_WEBHOOK_SECRET: "whsec-value-1234" };

function problemsOf(env: Record<string, unknown>): Array<{ key: string; message: string }> {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("fills every documented default", () => {
    const config = parseConfig(BASE);
    expect(config.mode).toBe("approve");
    expect(config.atlas).toEqual({ baseUrl: "https://cloud.mongodb.com", auth: undefined });
    expect(config.policy).toEqual({
      actAtPercent: 80,
      cooldownMinutes: 15,
      maxRedeploysPerIncident: 2,
      maxActionsPerHour: 6,
      verifyAfterSeconds: [180, 600],
      watchEtaMinutes: 30,
    });
    expect(config.targets).toEqual([]);
    expect(config.slack).toEqual({ kind: "none", signingSecret: undefined, approvers: [] });
  });

  it("reads POLICY, TARGETS and CLUSTERS as JSON strings or as tables", () => {
    const targets = [
      {
        name: "web",
        kind: "vercel",
        secret: "VERCEL_HOOK_WEB",
        clusters: ["Cluster0"],
        appNames: ["shop-web"],
      },
    ];
    const clusters = [{ groupId: "66aa00000000000000000003", name: "Cluster0", uriSecret: "MONGODB_URI_C0" }];
    const secrets = {
      VERCEL_HOOK_WEB: "https://hooks.example/abc",
      MONGODB_URI_C0: "mongodb://u:p@h/?tls=true",
    };
    const fromJson = parseConfig({
      ...BASE,
      ...secrets,
      POLICY: '{"cooldownMinutes":5}',
      TARGETS: JSON.stringify(targets),
      CLUSTERS: JSON.stringify(clusters),
    });
    const fromTables = parseConfig({
      ...BASE,
      ...secrets,
      POLICY: { cooldownMinutes: 5 },
      TARGETS: targets,
      CLUSTERS: clusters,
    });
    expect(fromJson.policy).toEqual(fromTables.policy);
    expect(fromJson.policy.cooldownMinutes).toBe(5);
    expect(fromJson.policy.maxActionsPerHour).toBe(6);
    expect(fromJson.targets).toEqual(fromTables.targets);
    expect(fromJson.targets[0]).toMatchObject({ name: "web", kind: "vercel", envNames: [] });
    expect(fromJson.secret("VERCEL_HOOK_WEB")).toBe("https://hooks.example/abc");
    expect(fromJson.secrets).toContain("https://hooks.example/abc");
    expect(fromJson.clusters).toEqual(clusters);
  });

  it("prefers a service account and pairs credentials", () => {
    expect(
      parseConfig({ ...BASE, ATLAS_CLIENT_ID: "mdb_sa_id", ATLAS_CLIENT_SECRET: "mdb_sa_sk" }).atlas.auth,
    ).toEqual({
      kind: "service-account",
      clientId: "mdb_sa_id",
      clientSecret: "mdb_sa_sk",
    });
    expect(
      parseConfig({ ...BASE, ATLAS_PUBLIC_KEY: "pub", ATLAS_PRIVATE_KEY: "priv" }).atlas.auth?.kind,
    ).toBe("api-key");
    expect(problemsOf({ ...BASE, ATLAS_CLIENT_ID: "x" })).toEqual([
      { key: "ATLAS_CLIENT_SECRET", message: "is required when ATLAS_CLIENT_ID is set" },
    ]);
  });

  it("lists every problem at once, by key, and never echoes a value", () => {
    const env = {
      ADMIN_TOKEN: "short-secret",
      RESPONDER_MODE: "yolo-mode-value",
      MONGODB_URI: "postgres://user:hunter2-password@db",
      POLICY: '{"cooldownMinutes":"soon-value","extra":1}',
      TARGETS:
        '[{"name":"web","kind":"vercell","secret":"HOOK"},{"name":"api","kind":"railway","secret":"MISSING_TOKEN"}]',
      CLUSTERS: "not json-value",
      SLACK_BOT_TOKEN: "xoxb-secret-token-value",
      SLACK_APPROVERS: "U123,bob-value",
      ATLAS_API_BASE_URL: "ftp://atlas-value",
    };
    const problems = problemsOf(env);
    expect(problems.map((p) => p.key).sort()).toEqual(
      [
        "ADMIN_TOKEN",
        "ATLAS_API_BASE_URL",
        "ATLAS_WEBHOOK_SECRET",
        "CLUSTERS",
        "MONGODB_URI",
        "POLICY",
        "POLICY.cooldownMinutes",
        "RESPONDER_MODE",
        "SLACK_APPROVERS",
        "SLACK_CHANNEL",
        "TARGETS[0].kind",
        "TARGETS[1].environmentId",
        "TARGETS[1].serviceId",
      ].sort(),
    );
    const text = JSON.stringify(problems);
    for (const value of Object.values(env)) {
      for (const fragment of [
        "short-secret",
        "yolo",
        "hunter2",
        "soon-value",
        "json-value",
        "xoxb",
        "bob-value",
        "ftp",
      ]) {
        if (value.includes(fragment)) expect(text).not.toContain(fragment);
      }
    }
  });

  it("requires the secrets that targets and clusters name", () => {
    expect(
      problemsOf({
        ...BASE,
        TARGETS: [{ name: "web", kind: "netlify", secret: "NETLIFY_HOOK" }],
        CLUSTERS: [{ groupId: "66aa00000000000000000003", name: "C", uriSecret: "C_URI" }],
      }),
    ).toEqual([
      { key: "TARGETS[0].secret", message: "names secret NETLIFY_HOOK, which is not set" },
      { key: "CLUSTERS[0].uriSecret", message: "names secret C_URI, which is not set" },
    ]);
  });

  it("looks clusters up in one way: project id without case, name exactly, null for any", () => {
    const config = parseConfig({
      ...BASE,
      MONGODB_URI: "mongodb://u:p@shared/?tls=true",
      STAGING_URI: "mongodb://u:p@staging/?tls=true",
      CLUSTERS: [
        { groupId: "66aa00000000000000000003", name: "Cluster0", mode: "auto", tier: "M10" },
        { groupId: "66AA00000000000000000004", name: "Cluster0", uriSecret: "STAGING_URI" },
        { groupId: "66aa00000000000000000004", name: "Reports" },
      ],
    });
    expect(config.cluster("66AA00000000000000000003", "Cluster0")?.tier).toBe("M10");
    expect(config.cluster("66aa00000000000000000004", "Cluster0")?.uriSecret).toBe("STAGING_URI");
    expect(config.cluster("66aa00000000000000000003", "cluster0")).toBeUndefined();
    expect(config.cluster(null, "Cluster0")?.groupId).toBe("66aa00000000000000000003");
    expect(config.clustersMatching("66aa00000000000000000004", null).map((c) => c.name)).toEqual([
      "Cluster0",
      "Reports",
    ]);
    expect(config.clustersMatching(null, "Cluster0")).toHaveLength(2);
    expect(config.clustersMatching(null, null)).toHaveLength(3);
    // The URI and the mode follow the same lookup.
    expect(config.mongoUriFor("66aa00000000000000000004", "Cluster0")).toBe(
      "mongodb://u:p@staging/?tls=true",
    );
    expect(config.mongoUriFor("66aa00000000000000000004", "Reports")).toBe("mongodb://u:p@shared/?tls=true");
    expect(config.mongoUriFor("66aa00000000000000000004", "Other")).toBeUndefined();
    expect(config.modeFor("66AA00000000000000000003", "Cluster0")).toBe("auto");
    expect(config.modeFor("66aa00000000000000000004", "Reports")).toBe("approve");
  });

  it("refuses duplicate target names", () => {
    const target = { name: "web", kind: "netlify", secret: "HOOK" };
    expect(problemsOf({ ...BASE, HOOK: "https://x.example", TARGETS: [target, target] })).toEqual([
      { key: "TARGETS[1]", message: "duplicates the name of an earlier entry" },
    ]);
  });
});
