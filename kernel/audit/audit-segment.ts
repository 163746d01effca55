// One sealed segment of a tenant's audit trail: a JSON-lines file moved out of Redis by the sealer
// (supervisor/audit/audit-sealer.ts). Line 1 is the header (tenant, segment number, first/last seq
// and time, the previous segment's digest), then one line per entry exactly as it was chained in
// Redis, then the footer: the SHA-256 of every byte before it (the segment's digest) and an Ed25519
// signature over that digest. The digests chain the segments; the entries' own hash chain runs on
// across them. Pure: reading and writing files is segment-files.ts's, the sequence check is
// segment-chain.ts's.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import {
  AuditEntrySchema,
  GENESIS_HASH,
  verifyChain,
  type AuditEntry,
  type ChainStart,
} from './audit-trail.ts';

export const SEGMENT_FORMAT = 'bulkhead-audit-segment/1';

/** The previous-segment digest of a tenant's first segment. */
export const FIRST_SEGMENT_PREV = GENESIS_HASH;

export const SegmentHeaderSchema = z.strictObject({
  type: z.literal('header'),
  format: z.literal(SEGMENT_FORMAT),
  tenant: z.string().min(1),
  /**
   * The tenant record's createdAt: which incarnation of the id the segment's entries are of (the
   * same id onboarded again after an offboarding is another tenant). Absent on segments sealed
   * before segments named it.
   */
  tenant_created_at: z.string().optional(),
  segment: z.number().int().min(1),
  first_seq: z.number().int().min(1),
  last_seq: z.number().int().min(1),
  count: z.number().int().min(1),
  first_at: z.string(),
  last_at: z.string(),
  prev_segment_digest: z.string().length(64),
  sealed_at: z.string(),
});
export type SegmentHeader = z.infer<typeof SegmentHeaderSchema>;

export const SegmentFooterSchema = z.strictObject({
  type: z.literal('footer'),
  segment: z.number().int().min(1),
  last_hash: z.string().length(64),
  digest: z.string().length(64),
  key_id: z.string(),
  signature: z.string(),
});
export type SegmentFooter = z.infer<typeof SegmentFooterSchema>;

export interface ParsedSegment {
  header: SegmentHeader;
  entries: AuditEntry[];
  footer: SegmentFooter;
  /** The SHA-256 of the bytes before the footer line, recomputed. */
  computedDigest: string;
}

/**
 * A sealed entry as it leaves for a SIEM (`bulkhead audit export`'s lines, the shipper's log bodies):
 * every field of the entry, and the segment that holds it with that segment's digest.
 */
export function exportedEntry(
  entry: AuditEntry,
  { header, footer }: Pick<ParsedSegment, 'header' | 'footer'>,
): AuditEntry & { segment: number; segment_digest: string } {
  return { ...entry, segment: header.segment, segment_digest: footer.digest };
}

/** The file name of segment `n`: zero-padded, so names sort in segment order. */
export function segmentFileName(n: number): string {
  return `segment-${String(n).padStart(8, '0')}.jsonl`;
}

/** The segment number a file name stands for, or undefined for any other file. */
export function segmentNumberOf(name: string): number | undefined {
  const match = /^segment-(\d{8,})\.jsonl$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** A key's id: the first 16 hex digits of the SHA-256 of its public key (SPKI DER). */
export function keyId(key: KeyObject): string {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 16);
}

/** What is signed: the format and the digest, so a signature is never valid for another kind of text. */
function signedMessage(digest: string): Buffer {
  return Buffer.from(`${SEGMENT_FORMAT}\n${digest}`);
}

export interface SegmentInput {
  tenant: string;
  /** The tenant record's createdAt (undefined: a segment of the form before, in tests). */
  tenantCreatedAt?: string | undefined;
  segment: number;
  prevSegmentDigest: string;
  /** Consecutive chained entries (at least one). */
  entries: readonly AuditEntry[];
  privateKey: KeyObject;
  sealedAt: Date;
}

export interface BuiltSegment {
  text: string;
  header: SegmentHeader;
  footer: SegmentFooter;
}

export function buildSegment(input: SegmentInput): BuiltSegment {
  const first = input.entries[0];
  const last = input.entries.at(-1);
  if (!first || !last) throw new BulkheadError('invalid_input', 'a segment holds at least one entry');
  const header: SegmentHeader = {
    type: 'header',
    format: SEGMENT_FORMAT,
    tenant: input.tenant,
    ...(input.tenantCreatedAt === undefined ? {} : { tenant_created_at: input.tenantCreatedAt }),
    segment: input.segment,
    first_seq: first.seq,
    last_seq: last.seq,
    count: input.entries.length,
    first_at: first.at,
    last_at: last.at,
    prev_segment_digest: input.prevSegmentDigest,
    sealed_at: input.sealedAt.toISOString(),
  };
  const body = [header, ...input.entries].map((line) => `${JSON.stringify(line)}\n`).join('');
  const digest = createHash('sha256').update(body).digest('hex');
  const footer: SegmentFooter = {
    type: 'footer',
    segment: input.segment,
    last_hash: last.hash,
    digest,
    key_id: keyId(input.privateKey),
    signature: sign(null, signedMessage(digest), input.privateKey).toString('base64'),
  };
  return { text: `${body}${JSON.stringify(footer)}\n`, header, footer };
}

/** Parses a segment's text; an audit_verification_failed error saying what is malformed. */
export function parseSegment(text: string): ParsedSegment {
  if (!text.endsWith('\n')) throw malformed('truncated (no final newline)');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('truncated (needs a header, an entry and a footer)');
  const footerLine = lines.pop() as string;
  const json = (line: string, what: string): unknown => {
    try {
      return JSON.parse(line) as unknown;
    } catch {
      throw malformed(`${what} is not JSON`);
    }
  };
  const header = SegmentHeaderSchema.safeParse(json(lines[0] as string, 'header'));
  if (!header.success) throw malformed('header malformed');
  const footer = SegmentFooterSchema.safeParse(json(footerLine, 'footer'));
  if (!footer.success) throw malformed('footer malformed');
  const entries = lines.slice(1).map((line, index) => {
    const entry = AuditEntrySchema.safeParse(json(line, `line ${index + 2}`));
    if (!entry.success) throw malformed(`line ${index + 2} is not an audit entry`);
    return entry.data;
  });
  const computedDigest = createHash('sha256')
    .update(text.slice(0, text.length - footerLine.length - 1))
    .digest('hex');
  return { header: header.data, entries, footer: footer.data, computedDigest };
}

/**
 * A segment whose very bytes verified before in this process (VerifiedSegments), read again without
 * the checks: JSON only, no schema, no hashing. The same bytes give the same values, so only a
 * reader that holds that earlier verdict may use it.
 */
export function parseVerifiedSegment(text: string): ParsedSegment {
  const lines = text.slice(0, -1).split('\n');
  const footer = JSON.parse(lines.pop() as string) as SegmentFooter;
  const header = JSON.parse(lines[0] as string) as SegmentHeader;
  const entries = lines.slice(1).map((line) => JSON.parse(line) as AuditEntry);
  return { header, entries, footer, computedDigest: footer.digest };
}

function malformed(message: string): BulkheadError {
  return new BulkheadError('audit_verification_failed', message);
}

/** What the next segment must continue from. */
export interface SegmentLink {
  segment: number;
  prevSegmentDigest: string;
  chain: ChainStart;
}

/**
 * Checks one parsed segment against its signature and against where the previous one ended.
 * Returns the problem (without the file name), or undefined when the segment holds.
 */
export function checkSegment(
  parsed: ParsedSegment,
  expected: SegmentLink & { tenant?: string | undefined },
  publicKey: KeyObject,
): string | undefined {
  const { header, footer, entries } = parsed;
  if (parsed.computedDigest !== footer.digest) return editedPart(parsed, expected.chain);
  if (footer.key_id !== keyId(publicKey))
    return `signed by another key (key id ${footer.key_id}, expected ${keyId(publicKey)})`;
  if (!verify(null, signedMessage(footer.digest), publicKey, Buffer.from(footer.signature, 'base64')))
    return 'signature does not verify (edited)';
  if (expected.tenant !== undefined && header.tenant !== expected.tenant)
    return `belongs to tenant "${header.tenant}", not "${expected.tenant}"`;
  if (header.segment !== footer.segment) return 'header and footer name different segments';
  if (header.segment !== expected.segment)
    return `holds segment ${header.segment} where segment ${expected.segment} belongs (reordered or renamed)`;
  if (header.prev_segment_digest !== expected.prevSegmentDigest)
    return `does not follow segment ${expected.segment - 1} (previous-segment digest differs: removed, reordered or replaced)`;
  const chain = verifyChain(entries, footer.last_hash, expected.chain);
  if (!chain.ok) return chain.problem;
  if (!describes(header, entries)) return 'header does not describe its entries';
  return undefined;
}

function describes(header: SegmentHeader, entries: readonly AuditEntry[]): boolean {
  const [first, last] = [entries[0], entries.at(-1)];
  return (
    header.count === entries.length &&
    header.first_seq === first?.seq &&
    header.last_seq === last?.seq &&
    header.first_at === first.at &&
    header.last_at === last.at
  );
}

/** The content no longer matches the signed digest: say which part changed, where that can be told. */
function editedPart(parsed: ParsedSegment, start: ChainStart): string {
  const chain = verifyChain(parsed.entries, parsed.footer.last_hash, start);
  if (!chain.ok) return `${chain.problem} (content does not match the signed digest)`;
  if (!describes(parsed.header, parsed.entries))
    return 'header edited (content does not match the signed digest)';
  return 'header edited (content does not match the signed digest; entries intact)';
}
