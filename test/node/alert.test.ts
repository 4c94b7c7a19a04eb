/** Alert classification: which deliveries open, close or only note an incident. */
import { describe, expect, it } from "vitest";
import {
  alertIntent,
  atlasAlertBodySchema,
  atlasAlertSchema,
  clusterRefOf,
  isConnectionAlert,
  parseAtlasEvent,
  projectOfAlert,
} from "../../src/atlas/alert.ts";
import {
  alertWith,
  CONNECTIONS_CLOSED_V1,
  DISK_ALERT_OPEN,
  FLEX_CONNECTIONS_OPEN,
  M0_CONNECTIONS_OPEN,
} from "../fixtures/atlas-alerts.ts";

describe("alert classification", () => {
  it("knows every connection metric and nothing else", () => {
    for (const metric of [
      "CONNECTIONS",
      "CONNECTIONS_PERCENT",
      "CONNECTIONS_MAX",
      "FLEX_CONNECTIONS",
      "FLEX_CONNECTIONS_PERCENT",
      "SERVERLESS_CONNECTIONS",
      "SERVERLESS_CONNECTIONS_PERCENT",
    ]) {
      expect(isConnectionAlert({ metricName: metric })).toBe(true);
    }
    for (const metric of ["DISK_PARTITION_SPACE_USED_DATA", "connections", undefined]) {
      expect(isConnectionAlert({ metricName: metric })).toBe(false);
    }
  });

  it("gives every X-MMS-Event a meaning, and falls back to the status without one", () => {
    expect(alertIntent("alert.open", "OPEN")).toBe("open");
    expect(alertIntent("alert.update", "OPEN")).toBe("open");
    expect(alertIntent("alert.close", "CLOSED")).toBe("close");
    expect(alertIntent("alert.cancel", "CANCELLED")).toBe("cancel");
    expect(alertIntent("alert.acknowledge", "OPEN")).toBe("note");
    expect(alertIntent("alert.inform", "INFORMATIONAL")).toBe("note");
    expect(alertIntent(null, "OPEN")).toBe("open");
    expect(alertIntent(null, "CLOSED")).toBe("close");
    expect(alertIntent(null, "CANCELLED")).toBe("cancel");
    expect(alertIntent(null, "TRACKING")).toBe("note");
    expect(parseAtlasEvent(" Alert.Open ")).toBe("alert.open");
    expect(parseAtlasEvent("alert.explode")).toBeNull();
    expect(parseAtlasEvent(undefined)).toBeNull();
  });

  it("keys the cluster on its name, else the replica set, else the host", () => {
    expect(clusterRefOf(M0_CONNECTIONS_OPEN)).toEqual({
      key: "name:Cluster0",
      name: "Cluster0",
      resolved: true,
    });
    expect(clusterRefOf(CONNECTIONS_CLOSED_V1)).toMatchObject({
      key: "rs:cluster0-shard-0",
      resolved: false,
    });
    expect(clusterRefOf({ hostnameAndPort: "h:27017" })).toMatchObject({ key: "host:h:27017" });
    expect(clusterRefOf({})).toMatchObject({ key: "project" });
  });

  it("accepts the published examples and drops fields it does not know", () => {
    for (const example of [
      DISK_ALERT_OPEN,
      CONNECTIONS_CLOSED_V1,
      M0_CONNECTIONS_OPEN,
      FLEX_CONNECTIONS_OPEN,
    ]) {
      const parsed = atlasAlertSchema.parse(example);
      expect(parsed.id).toBe(example.id);
      expect("links" in parsed).toBe(false);
    }
  });
});

/** Drops keys from a fixture (the fixture itself stays as published). */
function without(base: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(base).filter(([k]) => !keys.includes(k)));
}

describe("what the spec makes optional is optional", () => {
  it("accepts a currentValue without units, and keeps the number", () => {
    const parsed = atlasAlertBodySchema.parse(
      alertWith(M0_CONNECTIONS_OPEN, { currentValue: { number: 7 } }),
    );
    expect(parsed.currentValue).toEqual({ number: 7 });
  });

  it("keeps RAW units, which Atlas sends for connections though the spec's enum lacks it", () => {
    expect(atlasAlertBodySchema.parse(M0_CONNECTIONS_OPEN).currentValue).toEqual({
      number: 82.4,
      units: "RAW",
    });
  });

  it("accepts a currentValue without a number, or empty, and drops it as meaningless", () => {
    for (const currentValue of [{ units: "RAW" }, {}]) {
      const parsed = atlasAlertBodySchema.parse(alertWith(M0_CONNECTIONS_OPEN, { currentValue }));
      expect(parsed.currentValue).toBeUndefined();
    }
  });

  it("accepts an alert without groupId, metricName, currentValue, alertConfigId or any location", () => {
    const bare = without(
      M0_CONNECTIONS_OPEN,
      "groupId",
      "metricName",
      "currentValue",
      "alertConfigId",
      "orgId",
      "typeName",
      "clusterName",
      "replicaSetName",
      "hostnameAndPort",
      "lastNotified",
      "humanReadable",
    );
    expect(atlasAlertBodySchema.safeParse(bare).success).toBe(true);
    // The routed alert still needs its project.
    expect(atlasAlertSchema.safeParse(bare).success).toBe(false);
  });

  it("still refuses what the spec requires", () => {
    for (const key of ["id", "eventTypeName", "status", "created", "updated"]) {
      const result = atlasAlertBodySchema.safeParse(without(M0_CONNECTIONS_OPEN, key));
      expect(result.success, key).toBe(false);
    }
  });

  it("still refuses a wrong currentValue.number", () => {
    const result = atlasAlertBodySchema.safeParse(
      alertWith(M0_CONNECTIONS_OPEN, { currentValue: { number: "eighty", units: "RAW" } }),
    );
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["currentValue.number"]);
  });
});

describe("routing an alert to its project", () => {
  const A = "aaaaaaaaaaaaaaaaaaaaaaaa";
  const B = "bbbbbbbbbbbbbbbbbbbbbbbb";
  const clusters = [
    { groupId: A, name: "Orders", hosts: ["orders-0.example.net:27017", "orders-1.example.net:27017"] },
    { groupId: A, name: "Shared", hosts: [] },
    { groupId: B, name: "Shared", hosts: ["shared-b.example.net:27018"] },
    { groupId: B, name: "Billing", hosts: [] },
  ];

  it("takes the alert's own groupId first", () => {
    expect(projectOfAlert({ groupId: B, clusterName: "Orders" }, clusters)).toEqual({
      found: true,
      groupId: B,
      via: "alert",
    });
  });

  it("routes by a unique cluster name", () => {
    expect(projectOfAlert({ clusterName: "Billing" }, clusters)).toMatchObject({ found: true, groupId: B });
    expect(projectOfAlert({ clusterName: "billing" }, clusters).found).toBe(false);
  });

  it("routes by a host of a cluster's connection string, with the default port and any case", () => {
    expect(projectOfAlert({ hostnameAndPort: "ORDERS-1.example.net:27017" }, clusters)).toEqual({
      found: true,
      groupId: A,
      via: "host",
    });
    expect(projectOfAlert({ hostnameAndPort: "orders-0.example.net" }, clusters)).toMatchObject({
      groupId: A,
    });
    expect(projectOfAlert({ hostnameAndPort: "orders-0.example.net:27018" }, clusters).found).toBe(false);
  });

  it("routes a host in the domain of a cluster's mongodb+srv name, as the SRV spec ties them", () => {
    const srv = [
      { groupId: A, name: "Cluster0", hosts: [], srvHost: "cluster0.ab1cd.mongodb.net" },
      { groupId: A, name: "Cluster1", hosts: [], srvHost: "cluster1.ab1cd.mongodb.net" },
      { groupId: B, name: "Other", hosts: [], srvHost: "other.zz9yx.mongodb.net" },
    ];
    expect(projectOfAlert({ hostnameAndPort: "ac-q1w2e3-shard-00-01.ab1cd.mongodb.net:27017" }, srv)).toEqual(
      {
        found: true,
        groupId: A,
        via: "srv-domain",
      },
    );
    expect(projectOfAlert({ hostnameAndPort: "ac-9-shard-00-00.zz9yx.mongodb.net" }, srv)).toMatchObject({
      groupId: B,
    });
    // Another project's domain, a bare public suffix, or two projects in one domain: nowhere.
    expect(projectOfAlert({ hostnameAndPort: "ac-1.nope1.mongodb.net:27017" }, srv).found).toBe(false);
    expect(projectOfAlert({ hostnameAndPort: "mongodb.net:27017" }, srv).found).toBe(false);
    const shared = [...srv, { groupId: B, name: "Clash", hosts: [], srvHost: "clash.ab1cd.mongodb.net" }];
    expect(projectOfAlert({ hostnameAndPort: "ac-1.ab1cd.mongodb.net:27017" }, shared).found).toBe(false);
  });

  it("falls back to the host when the name is ambiguous, and never guesses", () => {
    expect(
      projectOfAlert({ clusterName: "Shared", hostnameAndPort: "shared-b.example.net:27018" }, clusters),
    ).toMatchObject({ found: true, groupId: B, via: "host" });
    const ambiguous = projectOfAlert({ clusterName: "Shared" }, clusters);
    expect(ambiguous).toEqual({ found: false, reason: expect.stringContaining("clusterName") });
    expect(projectOfAlert({}, clusters)).toMatchObject({ found: false });
    expect(projectOfAlert({ clusterName: "Orders" }, [])).toMatchObject({ found: false });
  });
});
