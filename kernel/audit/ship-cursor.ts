// The shipper's record of what the SIEM's collector accepted: <tenant>/shipped.json, the last
// segment shipped, its digest, last seq and hash. Retention prunes no segment past it while shipping
// is configured, so the record decides what may leave the disk: it is signed by the sealer's key like
// the pruning marker (under its own kind), and names its tenant. Raised by hand, it would otherwise
// let retention remove segments the collector never got, and sign a pruning marker over them that
// verify then accepts. Pure: segment-files.ts reads and writes it.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { SEGMENT_FORMAT } from './audit-segment.ts';
import type { SegmentsCheck } from './segment-chain.ts';
import { signMarker, verifiedMarker } from './signed-marker.ts';

export const ShipCursorSchema = z.strictObject({
  type: z.literal('shipped'),
  format: z.literal(SEGMENT_FORMAT),
  tenant: z.string().min(1),
  /** The shipped segment's tenant_created_at: the incarnation of the id it is of, when it names one. */
  tenant_created_at: z.string().optional(),
  segment: z.number().int().min(1),
  digest: z.string().length(64),
  last_seq: z.number().int().min(0),
  last_hash: z.string().length(64),
  key_id: z.string(),
  signature: z.string(),
});
export type ShipCursor = z.infer<typeof ShipCursorSchema>;

/** The record as shippers wrote it before it was signed: no tenant, no signature. */
const UnsignedShipCursorSchema = z.strictObject({
  segment: z.number().int().min(1),
  digest: z.string().length(64),
  last_seq: z.number().int().min(0),
  last_hash: z.string().length(64),
});

export function signShipCursor(
  cursor: Omit<ShipCursor, 'type' | 'format' | 'key_id' | 'signature'>,
  privateKey: KeyObject,
): ShipCursor {
  return signMarker('shipped', { type: 'shipped', format: SEGMENT_FORMAT, ...cursor }, privateKey);
}

/**
 * The record read back: `cursor` once its signature verifies and it names `tenant`; otherwise the
 * problem, and whether it is a record in the unsigned form of before (`unsigned`: nothing says it
 * is the shipper's, but nothing says it was tampered with either).
 */
export type ShipCursorRead = { cursor: ShipCursor } | { problem: string; unsigned: boolean };

export function verifiedShipCursor(
  text: string,
  publicKey: KeyObject,
  tenant: string | undefined,
): ShipCursorRead {
  const read = verifiedMarker('shipped', ShipCursorSchema, text, publicKey, 'shipped record');
  if (typeof read !== 'string') {
    // No tenant expected: a directory given as is whose segments (all removed?) name none.
    if (tenant === undefined || read.tenant === tenant) return { cursor: read };
    return { problem: `shipped record belongs to tenant "${read.tenant}"`, unsigned: false };
  }
  let unsigned = false;
  try {
    unsigned = UnsignedShipCursorSchema.safeParse(JSON.parse(text)).success;
  } catch {
    // Not JSON: `read` says so.
  }
  return unsigned
    ? {
        problem: 'shipped record is not signed (written before shipped records were signed, or by hand)',
        unsigned,
      }
    : { problem: read, unsigned };
}

/**
 * The segments checked (walkSegmentFiles), held against the signed record of what the collector
 * accepted: a trail that ends before the segment it names was cut after shipping, which the files
 * would otherwise not show (the newest segments removed, and nothing after them). Undefined when it
 * holds, or when the record is another incarnation's of the id (carried over: not this trail's end).
 */
export function shippedEndProblem(cursor: ShipCursor, check: SegmentsCheck): string | undefined {
  const of = check.createdAt;
  if (cursor.tenant_created_at !== undefined && of !== undefined && cursor.tenant_created_at !== of)
    return undefined;
  const last = check.lastSegment ?? check.prunedThrough ?? 0;
  if (cursor.segment <= last) return undefined;
  return `the trail ends at segment ${last} (seq ${check.lastSeq ?? 0}), the shipped record at segment ${cursor.segment} (seq ${cursor.last_seq}): segments removed after they were shipped`;
}
