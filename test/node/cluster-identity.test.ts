/**
 * Naming the cluster of an alert, and finding a cluster's processes (src/atlas/cluster-identity.ts).
 * Pure functions over data shaped like Atlas's, plus the resolver against the fake Atlas with the
 * real client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAtlas, startFakeAtlas } from "../../fakes/atlas-api.ts";
import { createAtlasAdminClient } from "../../src/atlas/admin-client.ts";
import {
  clusterPrefixOfHost,
  deploymentOfReplicaSet,
  identifyCluster,
  type ProcessRef,
  parseConnectionString,
  parseHostPort,
  processesOfAlert,
  processesOfCluster,
  resolveClusterName,
} from "../../src/atlas/cluster-identity.ts";

const GROUP = "5f0c1a2b3c4d5e6f7a8b9c0d";
const node = (set: number, index: number, extra: Partial<ProcessRef> = {}): ProcessRef => ({
  id: `atlas-x1y2z3-shard-0${set}-0${index}.ab1cd.mongodb.net:27017`,
  hostname: `atlas-x1y2z3-shard-0${set}-0${index}.ab1cd.mongodb.net`,
  port: 27017,
  replicaSetName: `atlas-x1y2z3-shard-${set}`,
  typeName: index === 0 ? "REPLICA_PRIMARY" : "REPLICA_SECONDARY",
  userAlias: `cluster0-shard-0${set}-0${index}.ab1cd.mongodb.net`,
  ...extra,
});
const other = (index: number): ProcessRef => ({
  id: `atlas-q9w8e7-shard-00-0${index}.ab1cd.mongodb.net:27017`,
  hostname: `atlas-q9w8e7-shard-00-0${index}.ab1cd.mongodb.net`,
  port: 27017,
  replicaSetName: "atlas-q9w8e7-shard-0",
  typeName: "REPLICA_SECONDARY",
  userAlias: `analytics-shard-00-0${index}.ab1cd.mongodb.net`,
});
const PROCESSES = [node(0, 0), node(0, 1), node(0, 2), other(0), other(1), other(2)];
const STANDARD =
  "mongodb://cluster0-shard-00-00.ab1cd.mongodb.net:27017,cluster0-shard-00-01.ab1cd.mongodb.net:27017," +
  "cluster0-shard-00-02.ab1cd.mongodb.net:27017/?ssl=true&authSource=admin&replicaSet=atlas-x1y2z3-shard-0";

describe("host and connection-string parsing", () => {
  it("splits host:port and reads the cluster part of Atlas host names", () => {
    expect(parseHostPort("Cluster0-Shard-00-01.AB1CD.mongodb.net:27017")).toEqual({
      host: "cluster0-shard-00-01.ab1cd.mongodb.net",
      port: 27017,
    });
    expect(parseHostPort("db.example.com")).toEqual({ host: "db.example.com" });
    expect(clusterPrefixOfHost("cluster0-shard-00-01.ab1cd.mongodb.net:27017")).toBe("cluster0");
    expect(clusterPrefixOfHost("my-app-db-config-00-02.ab1cd.mongodb.net")).toBe("my-app-db");
    expect(clusterPrefixOfHost("cluster0.ab1cd.mongodb.net")).toBe("cluster0");
    expect(clusterPrefixOfHost("db.example.com")).toBeUndefined();
    expect(deploymentOfReplicaSet("atlas-x1y2z3-shard-1")).toBe("atlas-x1y2z3");
    expect(deploymentOfReplicaSet("atlas-x1y2z3-config-0")).toBe("atlas-x1y2z3");
  });

  it("reads seed hosts and replicaSet from a standard connection string", () => {
    expect(parseConnectionString(STANDARD)).toEqual({
      hosts: [
        "cluster0-shard-00-00.ab1cd.mongodb.net:27017",
        "cluster0-shard-00-01.ab1cd.mongodb.net:27017",
        "cluster0-shard-00-02.ab1cd.mongodb.net:27017",
      ],
      replicaSet: "atlas-x1y2z3-shard-0",
    });
    expect(parseConnectionString("mongodb://u:p@h1,h2:27018/db").hosts).toEqual(["h1:27017", "h2:27018"]);
    expect(parseConnectionString("mongodb+srv://cluster0.ab1cd.mongodb.net").hosts).toEqual([]);
    expect(
      parseConnectionString("mongodb+srv://u:p%40ss@Cluster0.AB1CD.mongodb.net/app?retryWrites=true"),
    ).toEqual({
      hosts: [],
      srvHost: "cluster0.ab1cd.mongodb.net",
    });
  });
});

describe("processesOfCluster", () => {
  it("picks the cluster's nodes by its connection string, not its neighbours'", () => {
    const found = processesOfCluster(
      { name: "Cluster0", connectionStrings: { standard: STANDARD } },
      PROCESSES,
    );
    expect(found.map((p) => p.id)).toEqual(PROCESSES.slice(0, 3).map((p) => p.id));
  });

  it("falls back to the name in the host alias (lower-cased, first 23 characters)", () => {
    expect(processesOfCluster({ name: "Analytics" }, PROCESSES)).toHaveLength(3);
    const longName = "Customer-Facing-Production-East";
    const alias = longName.toLowerCase().slice(0, 23);
    const long = [node(0, 0, { userAlias: `${alias}-shard-00-00.ab1cd.mongodb.net` })];
    expect(processesOfCluster({ name: longName }, long)).toHaveLength(1);
    expect(processesOfCluster({ name: "Unknown" }, PROCESSES)).toEqual([]);
  });

  it("includes every shard, mongos and config server of a sharded deployment", () => {
    const mongos = (set: number, index: number) =>
      node(set, index, {
        id: node(set, index).id.replace("27017", "27016"),
        port: 27016,
        typeName: "SHARD_MONGOS",
        replicaSetName: undefined,
      });
    const config = node(0, 0, {
      id: "atlas-x1y2z3-config-00-00.ab1cd.mongodb.net:27017",
      hostname: "atlas-x1y2z3-config-00-00.ab1cd.mongodb.net",
      replicaSetName: "atlas-x1y2z3-config-0",
      userAlias: "cluster0-config-00-00.ab1cd.mongodb.net",
      typeName: "SHARD_CONFIG",
    });
    const all = [node(0, 0), node(1, 0), mongos(0, 0), mongos(1, 0), config, ...PROCESSES.slice(3)];
    const standard =
      "mongodb://cluster0-shard-00-00.ab1cd.mongodb.net:27016,cluster0-shard-01-00.ab1cd.mongodb.net:27016/?ssl=true";
    const found = processesOfCluster({ name: "Cluster0", connectionStrings: { standard } }, all);
    expect(found).toHaveLength(5);
  });
});

describe("identifyCluster (pure)", () => {
  it("trusts an alert that names its cluster", () => {
    expect(identifyCluster({ groupId: GROUP, clusterName: "Cluster0" }, {})).toEqual({
      found: true,
      clusterName: "Cluster0",
      groupId: GROUP,
      via: "alert",
      processIds: [],
    });
  });

  it("maps an internal host name to the cluster through the processes' aliases", () => {
    const location = { groupId: GROUP, hostnameAndPort: node(0, 2).id };
    expect(identifyCluster(location, { processes: PROCESSES })).toMatchObject({
      found: true,
      clusterName: "cluster0",
      via: "process-alias",
      processIds: [node(0, 2).id],
    });
    // With the configured list, the exact spelling wins.
    const clusters = [
      { groupId: GROUP, name: "Cluster0" },
      { groupId: GROUP, name: "Analytics" },
    ];
    expect(identifyCluster(location, { processes: PROCESSES, clusters })).toMatchObject({
      clusterName: "Cluster0",
      via: "configured-name",
    });
  });

  it("uses the replica set when the alert has no host", () => {
    expect(
      identifyCluster({ replicaSetName: "atlas-q9w8e7-shard-0" }, { processes: PROCESSES }),
    ).toMatchObject({
      clusterName: "analytics",
      processIds: PROCESSES.slice(3).map((p) => p.id),
    });
  });

  it("matches configured host names without any API call, and a sole configured cluster last", () => {
    const clusters = [
      { groupId: GROUP, name: "Shop", hostnames: ["shop-db-1.internal:27017", "shop-db-2.internal"] },
      { groupId: GROUP, name: "Other" },
    ];
    expect(
      identifyCluster({ groupId: GROUP, hostnameAndPort: "SHOP-DB-2.internal:27017" }, { clusters }),
    ).toMatchObject({
      clusterName: "Shop",
      via: "configured-hostnames",
    });
    const sole = [
      { groupId: GROUP, name: "OnlyOne" },
      { groupId: "000000000000000000000000", name: "Elsewhere" },
    ];
    expect(identifyCluster({ groupId: GROUP, replicaSetName: "rs0" }, { clusters: sole })).toMatchObject({
      clusterName: "OnlyOne",
      via: "sole-configured",
    });
  });

  it("says why when nothing matches", () => {
    expect(identifyCluster({ groupId: GROUP }, {})).toEqual({
      found: false,
      reason: "the alert names no cluster, host or replica set",
    });
    expect(
      identifyCluster(
        { hostnameAndPort: "x.example.com:27017", replicaSetName: "rs9" },
        { processes: PROCESSES },
      ),
    ).toEqual({
      found: false,
      reason: "no process or configured cluster matches the alert's host and replica set",
    });
    expect(processesOfAlert({ hostnameAndPort: node(0, 1).hostname }, PROCESSES)).toHaveLength(1);
  });
});

describe("resolveClusterName (with the API call injected)", () => {
  let fake: FakeAtlas;
  let groupId: string;

  beforeAll(async () => {
    fake = await startFakeAtlas();
    groupId = fake.addProject();
    fake.addCluster(groupId, { name: "Cluster0", tier: "M0" });
    fake.addCluster(groupId, { name: "Orders", tier: "M10" });
  });
  afterAll(() => fake.close());

  it("lists processes only when it must, and names the cluster from them", async () => {
    const key = fake.credentials.apiKey;
    const atlas = createAtlasAdminClient({ fetch, baseUrl: fake.baseUrl, auth: { kind: "api-key", ...key } });
    let calls = 0;
    const listProcesses = (id: string) => {
      calls += 1;
      return atlas.listProcesses(id);
    };
    const orders = fake.cluster(groupId, "Orders")!;

    expect(await resolveClusterName({ groupId, clusterName: "Orders" }, { listProcesses })).toMatchObject({
      via: "alert",
    });
    expect(calls).toBe(0);

    const clusters = [
      { groupId, name: "Cluster0" },
      { groupId, name: "Orders" },
    ];
    const byHost = await resolveClusterName(
      { groupId, hostnameAndPort: orders.processes[1]!.id },
      { listProcesses, clusters },
    );
    expect(byHost).toMatchObject({ found: true, clusterName: "Orders", via: "configured-name" });
    expect(calls).toBe(1);

    const byReplicaSet = await resolveClusterName(
      { groupId, replicaSetName: orders.processes[0]!.replicaSetName },
      { listProcesses },
    );
    expect(byReplicaSet).toMatchObject({ found: true, clusterName: "orders", via: "process-alias" });
  });

  it("lets API failures propagate", async () => {
    const failing = async () => {
      throw new Error("boom");
    };
    await expect(
      resolveClusterName({ groupId, replicaSetName: "rs0" }, { listProcesses: failing }),
    ).rejects.toThrow("boom");
  });
});
