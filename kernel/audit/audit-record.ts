// What one audit record says. A tools/call record carries who called which tool, the decision, the
// outcome (status, error code and its class from kernel/errors/error-codes.ts, latency), a keyed
// digest of the arguments (never their values), the units a pack reported as consumed downstream
// and the trace id; a tools/list record says which tools were listed and which withheld. Records
// appended by other parts (a security event) carry the decision fields only, so every field past
// `reason` is optional.
import { createHmac, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { ERROR_CLASSES } from '../errors/error-codes.ts';
import { canonicalJson, IDEMPOTENCY_KEY_FIELD } from '../tools/tool-definition.ts';
import { TenantKeys, tenantKey, type KeyLabel } from '../secrets/tenant-keys.ts';

/** The `_meta` key under which a pack reports the units it consumed downstream. */
export const UNITS_META_KEY = 'io.bulkhead/units';

/** One call through the egress gateway (egress/): where to, how it went, the bytes each way. */
export const UpstreamCallSchema = z.strictObject({
  host: z.string(),
  port: z.number().int(),
  method: z.string(),
  /** The HTTP status the gateway or the upstream answered (200 for an opened CONNECT tunnel). */
  status: z.number().int(),
  bytes_sent: z.number().int().min(0),
  bytes_received: z.number().int().min(0),
  /** Until the upstream connected (CONNECT) or answered its headers (plain HTTP). */
  latency_ms: z.number().min(0),
  duration_ms: z.number().min(0),
  pack: z.string().nullable(),
  upstream: z.string().nullable(),
});
export type UpstreamCall = z.infer<typeof UpstreamCallSchema>;

/**
 * The rate-limit refusals of one caller not recorded one by one (asked again within the wait the
 * last recorded one gave it: router/mcp/repeated-refusals.ts): how many, the tool names they named
 * (at most 16 distinct ones, each cut as `recordedToolName` cuts it) and how many named others.
 */
/** Distinct tool names a `repeats` names at most; refusals naming others are only counted. */
export const MAX_REPEATED_TOOLS = 16;

export const RepeatsSchema = z.strictObject({
  count: z.number().int().min(1),
  tools: z.array(z.string()).max(MAX_REPEATED_TOOLS),
  others: z.number().int().min(0),
});
export type Repeats = z.infer<typeof RepeatsSchema>;

export const AuditEventSchema = z.strictObject({
  tenant: z.string(),
  user: z.string().nullable(),
  agent: z.string().nullable(),
  tool: z.string(),
  decision: z.enum(['permit', 'deny']),
  reason: z.string(),
  /**
   * What was recorded: a tools/call, a tools/list, a security event, or an operator's action asked in
   * the console, done or refused (absent on older entries). Only the control plane writes
   * `operator` (tenants/control-plane/operator-actions.ts): a tenant names its users and the tools
   * its agents ask for, so `console:<sub>` and `operator/<action>` alone can be a tenant's call.
   * `refusals`: only what a caller that stopped asking left out (`repeats`), no call of its own.
   */
  kind: z.enum(['call', 'list', 'security', 'operator', 'refusals']).optional(),
  /** HMAC-SHA256 of the canonical arguments under the tenant's audit key (argsDigestKey). */
  args_digest: z.string().length(64).optional(),
  status: z.enum(['ok', 'error']).optional(),
  error_code: z.string().optional(),
  error_class: z.enum(ERROR_CLASSES).or(z.literal('internal')).optional(),
  latency_ms: z.number().min(0).optional(),
  units: z.number().min(0).optional(),
  trace_id: z.string().optional(),
  /** tools/list: the tools listed to the caller, and the served ones withheld from it. */
  listed: z.array(z.string()).optional(),
  withheld: z.array(z.string()).optional(),
  /** An egress record (`tool: egress`): the upstream call the gateway relayed or refused. */
  upstream: UpstreamCallSchema.optional(),
  /** The caller's rate-limit refusals left out since its last recorded one (kind `call` or `refusals`). */
  repeats: RepeatsSchema.optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** MCP's longest tool name (tool names are 1 to 128 characters): more is never a tool's name. */
const MAX_RECORDED_NAME = 128;

/**
 * What a record or a decision log keeps of the tool name a caller sent: a name no tool can have is
 * cut, its length said, so that a caller cannot put a megabyte into the trail (or its SIEM copy) with
 * each refused call, which costs only the caller's own share of its budget (router/pipeline/refusal-charge.ts).
 */
export function recordedToolName(name: string): string {
  return name.length <= MAX_RECORDED_NAME
    ? name
    : `${name.slice(0, MAX_RECORDED_NAME)}...(${name.length} chars)`;
}

/** The argument digests' label (kernel/secrets/tenant-keys.ts). */
const ARGS_KEY_LABEL: KeyLabel = { salt: 'bulkhead-audit', info: 'bulkhead audit arguments digest v1' };

/**
 * The tenant's key for argument digests: HKDF-SHA256(installation secret, salt = "bulkhead-audit",
 * info = "bulkhead audit arguments digest v1" NUL tenant), 32 bytes (tenantKey). Without the
 * installation secret a digest of small argument values cannot be reversed by trying values.
 */
export function argsDigestKey(secret: Uint8Array | string, tenant: string): Buffer {
  return tenantKey(secret, ARGS_KEY_LABEL, tenant);
}

/**
 * HMAC-SHA256 (hex) under `key` of the arguments' canonical JSON (keys sorted at every level),
 * without the idempotency key: the same arguments give the same digest whichever key a write
 * carried (as in the idempotency store's own digest, kernel/tools/tool-definition.ts).
 */
export function argsDigest(key: Uint8Array | KeyObject, args: unknown): string {
  return hmacHex(key, digestedText(args));
}

/** What an argument digest covers: the canonical JSON of the arguments without the idempotency key. */
function digestedText(args: unknown): string {
  const value =
    args !== null && typeof args === 'object' && !Array.isArray(args)
      ? Object.fromEntries(Object.entries(args).filter(([name]) => name !== IDEMPOTENCY_KEY_FIELD))
      : (args ?? {});
  return canonicalJson(value);
}

function hmacHex(key: Uint8Array | KeyObject, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** The digested text of no arguments (none, or nothing but an idempotency key). */
const NO_ARGUMENTS = digestedText({});

/**
 * Per-tenant digest keys of one process, derived once per tenant and kept as key objects
 * (TenantKeys). A call without arguments (whoami, quota_status, most listings) has the same digest
 * every time, so it is computed once per tenant: in the router's CPU profile with one connection an
 * HMAC took about 25 µs per call in place (its context's set-up 16), against 1.2 µs in a loop of
 * its own.
 */
export class ArgsDigester {
  private readonly keys: TenantKeys;
  /** Each tenant's digest of no arguments. */
  private readonly none = new Map<string, string>();

  constructor(secret: Uint8Array | string) {
    this.keys = new TenantKeys(secret, ARGS_KEY_LABEL);
  }

  digest(tenant: string, args: unknown): string {
    const text = digestedText(args);
    if (text !== NO_ARGUMENTS) return hmacHex(this.keys.get(tenant), text);
    let none = this.none.get(tenant);
    if (none === undefined) {
      none = hmacHex(this.keys.get(tenant), NO_ARGUMENTS);
      this.none.set(tenant, none);
    }
    return none;
  }
}

/** The units a tool result reports in `_meta["io.bulkhead/units"]`: a finite non-negative number, else none. */
export function reportedUnits(result: { _meta?: Record<string, unknown> | undefined }): number | undefined {
  const units = result._meta?.[UNITS_META_KEY];
  return typeof units === 'number' && Number.isFinite(units) && units >= 0 ? units : undefined;
}
