// A tenant's egress policy (docs/egress.md): what its container may reach through the
// egress gateway (egress/). `none` (the default) opens nothing. `allowlist` names the hosts every
// pack of the tenant may reach, the hosts only one pack may reach, and named upstreams: hosts with
// a shared call budget (the gateway's configuration holds each upstream's calls per minute) and,
// for plain-HTTP upstreams, a credential the gateway adds from the tenant's secret store, so the
// pack never holds it. Per-pack entries are least privilege between packs of one tenant, not a
// boundary: the packs of a tenant share its UID inside its container.
import { z } from 'zod';
import { PackNameShapeSchema } from '../packs/pack-manifest.ts';

/**
 * `name`, `name:port`, `*.suffix` or `*.suffix:port`, or an IPv4 literal with or without a port.
 * Without a port a rule allows 80 and 443. Lower case; no scheme, path or user info.
 */
export const HostRuleSchema = z
  .string()
  .max(260)
  .regex(
    /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$/,
    'a host rule is a lower-case host name, *.suffix or IPv4 address, with an optional :port',
  );

const UpstreamNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/);

/** A header the gateway sets on plain-HTTP requests to an upstream, from a tenant secret. */
export const EgressCredentialSchema = z.strictObject({
  /** The request header, e.g. `authorization` or `x-api-key`. */
  header: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,63}$/)
    .refine((h) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(h), {
      message: 'not a header the gateway may set',
    }),
  /** The name of one of the tenant's `secrets` (its reference, never its value, is in the record). */
  secret: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  /** Put before the value, e.g. `Bearer `. */
  prefix: z
    .string()
    .max(32)
    .regex(/^[\x20-\x7e]*$/)
    .default(''),
});
export type EgressCredential = z.infer<typeof EgressCredentialSchema>;

export const EgressUpstreamSchema = z.strictObject({
  hosts: z.array(HostRuleSchema).min(1).max(32),
  /** The packs that may use it; absent: every pack of the tenant. */
  packs: z.array(PackNameShapeSchema).max(64).optional(),
  credential: EgressCredentialSchema.optional(),
});
export type EgressUpstream = z.infer<typeof EgressUpstreamSchema>;

export const EgressPolicySchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({
    mode: z.literal('allowlist'),
    /** Hosts any pack (and the runtime itself) of the tenant may reach. */
    hosts: z.array(HostRuleSchema).max(256).default([]),
    /** Hosts only the named pack may reach. */
    packs: z
      .record(PackNameShapeSchema, z.strictObject({ hosts: z.array(HostRuleSchema).max(256) }))
      .default({}),
    /** Named upstreams: their hosts are allowed, each call is charged to the upstream's budget. */
    upstreams: z.record(UpstreamNameSchema, EgressUpstreamSchema).default({}),
  }),
]);
export type EgressPolicy = z.infer<typeof EgressPolicySchema>;
