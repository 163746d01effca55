// A tenant's whole audit trail as a reviewer reads it: the entries the supervisor sealed into signed
// segments (verified with the installation's audit public key, as `bulkhead audit verify` does) and
// those still in Redis after them, with one chain check over both, including the link between the
// newest segment and the first entry still in Redis. Without a public key (or a segment directory)
// it is the entries still in Redis alone, as before sealing existed.
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AuditEntry, AuditTrail, ChainCheck } from '../../kernel/audit/audit-trail.ts';
import { checkSegments, type VerifiedSegments } from '../../kernel/audit/segment-chain.ts';
import {
  readMarkerText,
  readSegmentFiles,
  readShipCursor,
  tenantSegmentDir,
} from '../../kernel/audit/segment-files.ts';

/** An entry of the trail; `segment` names the sealed segment that holds it, absent while in Redis. */
export type TrailEntry = AuditEntry & { segment?: number };

export interface TrailCheck extends ChainCheck {
  /**
   * What of the trail is sealed (absent when segments are not read), and the newest segment the
   * supervisor shipped to the SIEM (absent when it ships none).
   */
  sealed?: { segments: number; entries: number; prunedThrough?: number; shippedThrough?: number };
}

export interface TrailView {
  /** Oldest first: the sealed entries, then those still in Redis. */
  entries: TrailEntry[];
  chain: TrailCheck;
}

export interface SealedSource {
  /** The installation's audit directory (BULKHEAD_AUDIT_DIR). */
  root: string;
  publicKey: KeyObject;
  /** Segments verified by earlier reads: unchanged ones are not parsed and checked again. */
  verified?: VerifiedSegments | undefined;
}

export interface ReadTrailOptions {
  trail: AuditTrail;
  tenant: string;
  sealed?: SealedSource | undefined;
}

/**
 * The whole trail. Redis (its entries and head, one MULTI) is read before the segments, so a seal in
 * between can only make the two overlap, never leave a gap: an overlap is counted once, and anything
 * else the two disagree on is a broken trail.
 */
export async function readTrail(options: ReadTrailOptions): Promise<TrailView> {
  const { trail, tenant, sealed } = options;
  const { entries: unsealed, check: redisCheck } = await trail.read(tenant);
  const dir = sealed ? tenantSegmentDir(sealed.root, tenant) : undefined;
  if (!sealed || !dir || !existsSync(dir)) return { entries: unsealed, chain: redisCheck };
  // One pass: each segment is parsed once, checked as `bulkhead audit verify` checks it (unless its
  // very bytes were verified in that place before), and its entries kept once it verified.
  const entries: TrailEntry[] = [];
  const segments = checkSegments({
    files: await readSegmentFiles(dir),
    marker: await readMarkerText(dir),
    publicKey: sealed.publicKey,
    tenant,
    verified: sealed.verified,
    onVerified: ({ header, entries: inSegment }) => {
      for (const entry of inSegment) entries.push({ ...entry, segment: header.segment });
    },
  });
  const shippedThrough = (await readShipCursor(dir))?.segment;
  const summary = {
    segments: segments.segments,
    entries: segments.entries,
    ...(segments.prunedThrough === undefined ? {} : { prunedThrough: segments.prunedThrough }),
    ...(shippedThrough === undefined ? {} : { shippedThrough }),
  };
  const broken = (problem: string): TrailView => ({
    entries: unsealed,
    chain: { ok: false, entries: unsealed.length, head: redisCheck.head, problem, sealed: summary },
  });
  if (!segments.ok) return broken(`sealed segments: ${segments.problem ?? 'do not verify'}`);
  // Entries in Redis already sealed (a seal between the two reads, or a pass that stopped before its
  // trim) are the sealed ones exactly, or the trail is broken; the rest continue where the newest
  // segment ended (or the trail is all sealed).
  const lastSeq = segments.lastSeq ?? 0;
  const sealedHashes = new Map(entries.map((e) => [e.seq, e.hash]));
  const differs = unsealed.find((e) => e.seq <= lastSeq && sealedHashes.get(e.seq) !== e.hash);
  if (differs) return broken(`entry ${differs.seq} in Redis is not the sealed one`);
  const rest = unsealed.filter((e) => e.seq > lastSeq);
  const first = rest[0];
  if (first && (first.prev !== segments.head || first.seq !== lastSeq + 1))
    return broken(
      `entry ${first.seq} in Redis does not follow the sealed segments (they end at seq ${lastSeq})`,
    );
  if (!first && redisCheck.head !== segments.head && segments.segments > 0)
    return broken('the head in Redis is not where the sealed segments end (entries missing)');
  if (!redisCheck.ok) return broken(redisCheck.problem ?? 'the entries in Redis do not verify');
  entries.push(...rest);
  return { entries, chain: { ok: true, entries: entries.length, head: redisCheck.head, sealed: summary } };
}
