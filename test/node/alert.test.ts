/** Alert classification: which deliveries open, close or only note an incident. */
import { describe, expect, it } from "vitest";
import {
  alertIntent,
  atlasAlertSchema,
  clusterRefOf,
  isConnectionAlert,
  parseAtlasEvent,
} from "../../src/atlas/alert.ts";
import {
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
