// What the supervisor leaves in an offboarded tenant's segment directory: a signed marker saying
// when it was offboarded, the retention that keeps applying to its segments after its registry
// record is gone (the sealer prunes by it, then removes the directory), and where the trail ended.
// The end matters because offboarding also ends the tenant's chain in Redis (a tenant onboarded
// again with the same id starts one of its own): with the marker, removing the newest segments of an
// offboarded trail is seen in the files alone. Pure: segment-files.ts reads and writes it.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { MAX_AUDIT_DAYS, TENANT_ID_PATTERN } from '../tenant/tenant-spec.ts';
import { SEGMENT_FORMAT } from './audit-segment.ts';
import type { SegmentsCheck } from './segment-chain.ts';
import { signMarker, verifiedMarker } from './signed-marker.ts';

export const OFFBOARD_MARKER_FILE = 'offboarded.json';

export const OffboardMarkerSchema = z.strictObject({
  type: z.literal('offboarded'),
  format: z.literal(SEGMENT_FORMAT),
  tenant: z.string().min(1),
  /** The offboarded tenant record's createdAt (absent on markers written before it was named). */
  tenant_created_at: z.string().optional(),
  offboarded_at: z.string(),
  /** The tenant record's `retention.auditDays` when it was offboarded, bound as the record's is. */
  audit_days: z.number().int().min(1).max(MAX_AUDIT_DAYS),
  /** The last segment sealed, its last entry's seq and hash: where the trail ends. */
  last_segment: z.number().int().min(1),
  last_seq: z.number().int().min(1),
  last_hash: z.string().length(64),
  key_id: z.string(),
  signature: z.string(),
});
export type OffboardMarker = z.infer<typeof OffboardMarkerSchema>;

export function signOffboardMarker(
  marker: Omit<OffboardMarker, 'key_id' | 'signature'>,
  privateKey: KeyObject,
): OffboardMarker {
  return signMarker('offboarded', marker, privateKey);
}

/** The marker once its signature verifies, else the problem. */
export function verifiedOffboardMarker(text: string, publicKey: KeyObject): OffboardMarker | string {
  return verifiedMarker('offboarded', OffboardMarkerSchema, text, publicKey, 'offboarding marker');
}

/**
 * The segments checked as far as they go (walkSegmentFiles), held against the marker: they must be
 * the marker's tenant's and end where it says, on disk or pruned; the problem otherwise.
 */
export function offboardEndProblem(
  marker: OffboardMarker,
  check: SegmentsCheck,
  expected: { tenant: string | undefined; createdAt?: string | undefined },
): string | undefined {
  if (expected.tenant !== undefined && expected.tenant !== marker.tenant)
    return `offboarding marker belongs to tenant "${marker.tenant}"`;
  const createdAt = marker.tenant_created_at;
  if (expected.createdAt !== undefined && createdAt !== undefined && createdAt !== expected.createdAt)
    return `offboarding marker: of the tenant created ${createdAt}, not of the one created ${expected.createdAt}`;
  const last = check.lastSegment ?? check.prunedThrough ?? 0;
  if (last === marker.last_segment && check.head === marker.last_hash) return undefined;
  return `the trail ends at segment ${last}, the offboarding marker at segment ${marker.last_segment} (seq ${marker.last_seq}): segments removed or added after offboarding`;
}

/**
 * Where offboarding moves a tenant's segments: beside the live tenants' directories, under a name
 * that is not a tenant id (a dot), so the same id onboarded again seals into a directory of its own.
 */
export function offboardedDirName(tenant: string, at: Date): string {
  return `${tenant}.offboarded-${at.toISOString().replace(/[:.]/g, '-')}`;
}

/** The names offboardedDirName gives: a tenant id, then the time it was offboarded. */
export const OFFBOARDED_DIR = new RegExp(`^${TENANT_ID_PATTERN.source.slice(1, -1)}\\.offboarded-[0-9TZ-]+$`);
