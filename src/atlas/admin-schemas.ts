/**
 * What the Atlas Administration API answers, as the responder reads it: the small typed results
 * (`AtlasCluster`, `AtlasProcess`, …), the lenient zod schemas of the bodies they come from, how an
 * Atlas error body names its code, and how an unreadable answer fails (`UNEXPECTED_RESPONSE`).
 * Schemas are lenient: unknown fields are dropped and most fields optional, strict only where the
 * responder relies on a field. Trade-off: a renamed field reads as absent rather than failing the
 * call; the spec tests (test/node/atlas-spec.test.ts) are what catch such drift.
 */
import * as z from "zod";
import { UpstreamHttpError } from "../errors.ts";
import type { ErrorFields, HttpRequest, HttpResponse } from "../outbound/http.ts";

/** The service name in every error the Admin API client throws. */
export const ATLAS_SERVICE = "atlas-admin";

/** A cluster as the responder needs it, from either the cluster or the Flex API. */
export interface AtlasCluster {
  groupId: string;
  name: string;
  /** "tenant": M0 and legacy M2/M5; "flex": Flex (including M2/M5 migrated to Flex); "dedicated": M10+. */
  kind: "dedicated" | "tenant" | "flex";
  /** The tier that sets the limits: "M0", "FLEX", "M10", …; undefined when Atlas did not say. */
  tier: string | undefined;
  /** As configured (`electableSpecs.instanceSize`); "FLEX" for Flex clusters. */
  instanceSize?: string;
  /** What the cluster really runs as, when Atlas reports it separately (e.g. an M2 now on FLEX). */
  effectiveInstanceSize?: string;
  /** AWS, AZURE, GCP, TENANT or FLEX. */
  providerName?: string;
  /** The cloud under a TENANT or FLEX cluster. */
  backingProviderName?: string;
  /** The cloud the nodes actually run on: the backing provider for TENANT/FLEX, else the provider. */
  cloudProvider?: string;
  regionName?: string;
  stateName?: string;
  paused: boolean;
  clusterType?: string;
  mongoDBVersion?: string;
  connectionStrings: { standard?: string; standardSrv?: string };
}

/** One MongoDB process (`ApiHostView_Atlas`). */
export interface AtlasProcess {
  /** `hostname:port`, the processId of the measurements API. */
  id: string;
  hostname: string;
  port: number;
  replicaSetName?: string;
  shardName?: string;
  /** REPLICA_PRIMARY, REPLICA_SECONDARY, SHARD_MONGOS, … */
  typeName?: string;
  userAlias?: string;
  version?: string;
  lastPing?: string;
}

export interface AtlasDataPoint {
  at: string;
  /** null where Atlas has no data for that interval. */
  value: number | null;
}

export interface AtlasMeasurements {
  processId: string;
  granularity?: string;
  start?: string;
  end?: string;
  measurements: Array<{ name: string; units?: string; points: AtlasDataPoint[] }>;
}

/** An alert as the API returns it; only the fields the responder reads. */
export interface AtlasAlert {
  id: string;
  groupId?: string;
  alertConfigId?: string;
  eventTypeName?: string;
  metricName?: string;
  status?: string;
  clusterName?: string;
  hostnameAndPort?: string;
  replicaSetName?: string;
  currentValue?: { number?: number; units?: string };
  created?: string;
  updated?: string;
  resolved?: string;
  acknowledgedUntil?: string;
  acknowledgementComment?: string;
}

// ---------------------------------------------------------------------------------------------
// Response schemas: lenient (unknown fields are dropped, most fields optional), strict where we rely.

const HardwareSpec = z.object({
  instanceSize: z.string().optional(),
  effectiveInstanceSize: z.string().optional(),
  nodeCount: z.number().optional(),
});

const RegionConfig = z.object({
  providerName: z.string().optional(),
  backingProviderName: z.string().optional(),
  regionName: z.string().optional(),
  priority: z.number().optional(),
  electableSpecs: HardwareSpec.optional(),
  effectiveElectableSpecs: HardwareSpec.optional(),
});

const ConnectionStrings = z.object({ standard: z.string().optional(), standardSrv: z.string().optional() });

export const ClusterBody = z.object({
  name: z.string(),
  groupId: z.string().optional(),
  clusterType: z.string().optional(),
  stateName: z.string().optional(),
  paused: z.boolean().optional(),
  mongoDBVersion: z.string().optional(),
  connectionStrings: ConnectionStrings.optional(),
  replicationSpecs: z.array(z.object({ regionConfigs: z.array(RegionConfig).optional() })).optional(),
});

export const FlexBody = z.object({
  name: z.string(),
  groupId: z.string().optional(),
  clusterType: z.string().optional(),
  stateName: z.string().optional(),
  mongoDBVersion: z.string().optional(),
  connectionStrings: ConnectionStrings.optional(),
  providerSettings: z.object({
    providerName: z.string().optional(),
    backingProviderName: z.string().optional(),
    regionName: z.string().optional(),
  }),
});

const ProcessBody = z.object({
  id: z.string(),
  hostname: z.string(),
  port: z.number(),
  replicaSetName: z.string().optional(),
  shardName: z.string().optional(),
  typeName: z.string().optional(),
  userAlias: z.string().optional(),
  version: z.string().optional(),
  lastPing: z.string().optional(),
});

export const ProcessPage = z.object({ results: z.array(ProcessBody), totalCount: z.number().optional() });

export const MeasurementsBody = z.object({
  processId: z.string().optional(),
  granularity: z.string().optional(),
  start: z.string().optional(),
  end: z.string().optional(),
  measurements: z
    .array(
      z.object({
        name: z.string(),
        units: z.string().optional(),
        dataPoints: z
          .array(z.object({ timestamp: z.string(), value: z.number().nullable().optional() }))
          .optional(),
      }),
    )
    .optional(),
});

export const AlertBody = z.object({
  id: z.string(),
  groupId: z.string().optional(),
  alertConfigId: z.string().optional(),
  eventTypeName: z.string().optional(),
  metricName: z.string().optional(),
  status: z.string().optional(),
  clusterName: z.string().optional(),
  hostnameAndPort: z.string().optional(),
  replicaSetName: z.string().optional(),
  currentValue: z.object({ number: z.number().optional(), units: z.string().optional() }).optional(),
  created: z.string().optional(),
  updated: z.string().optional(),
  resolved: z.string().optional(),
  acknowledgedUntil: z.string().optional(),
  acknowledgementComment: z.string().optional(),
});

/** Atlas errors are `{ error: <status>, errorCode, detail, reason }`; the OAuth endpoint uses RFC 6749's `{ error, error_description }`. */
export function atlasErrorFields(body: unknown): ErrorFields {
  if (typeof body !== "object" || body === null) return {};
  const fields = body as Record<string, unknown>;
  const code =
    typeof fields.errorCode === "string"
      ? fields.errorCode
      : typeof fields.error === "string"
        ? fields.error
        : undefined;
  const detail =
    typeof fields.detail === "string"
      ? fields.detail
      : typeof fields.error_description === "string"
        ? fields.error_description
        : undefined;
  return { code, detail: detail?.slice(0, 300) };
}

/** Parses an answer with `schema`; one that does not match fails like a refused call, with the status Atlas sent. */
export function parseBody<T>(schema: z.ZodType<T>, request: HttpRequest, response: HttpResponse): T {
  const parsed = schema.safeParse(response.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(body)";
  // An answer we cannot read is reported like a failed call: same class, with the status Atlas sent.
  throw new UpstreamHttpError({
    service: ATLAS_SERVICE,
    method: request.method,
    url: request.url,
    status: response.status,
    code: "UNEXPECTED_RESPONSE",
    detail: `${where}: ${issue?.message ?? "does not match the expected shape"}`,
  });
}

export function toCluster(groupId: string, body: z.infer<typeof ClusterBody>): AtlasCluster {
  const configs = body.replicationSpecs?.[0]?.regionConfigs ?? [];
  // The highest-priority region holds the electable nodes that set the tier.
  const region = [...configs].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
  const spec = region?.effectiveElectableSpecs ?? region?.electableSpecs;
  const instanceSize = spec?.instanceSize;
  const effectiveInstanceSize = spec?.effectiveInstanceSize;
  const providerName = region?.providerName;
  const tier = effectiveInstanceSize ?? instanceSize;
  const kind = providerName === "TENANT" ? (tier === "FLEX" ? "flex" : "tenant") : "dedicated";
  const backingProviderName = region?.backingProviderName;
  return {
    groupId: body.groupId ?? groupId,
    name: body.name,
    kind,
    tier,
    instanceSize,
    effectiveInstanceSize,
    providerName,
    backingProviderName,
    cloudProvider: providerName === "TENANT" ? backingProviderName : providerName,
    regionName: region?.regionName,
    stateName: body.stateName,
    paused: body.paused ?? false,
    clusterType: body.clusterType,
    mongoDBVersion: body.mongoDBVersion,
    connectionStrings: { ...body.connectionStrings },
  };
}

export function toFlexCluster(groupId: string, body: z.infer<typeof FlexBody>): AtlasCluster {
  const settings = body.providerSettings;
  return {
    groupId: body.groupId ?? groupId,
    name: body.name,
    kind: "flex",
    tier: "FLEX",
    instanceSize: "FLEX",
    providerName: settings.providerName ?? "FLEX",
    backingProviderName: settings.backingProviderName,
    cloudProvider: settings.backingProviderName,
    regionName: settings.regionName,
    stateName: body.stateName,
    paused: false,
    clusterType: body.clusterType ?? "REPLICASET",
    mongoDBVersion: body.mongoDBVersion,
    connectionStrings: { ...body.connectionStrings },
  };
}

export function toAlert(body: z.infer<typeof AlertBody>): AtlasAlert {
  return { ...body };
}
