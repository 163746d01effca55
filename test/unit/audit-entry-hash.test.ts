// The chain's hash of an entry is what it has always been: the SHA-256 of the previous hash, a
// newline and the entry's JSON with its fields in localeCompare order (nested values as they are).
// The field order is now worked out once per set of fields; entries hashed before must still verify.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AuditEntrySchema,
  entryHash,
  GENESIS_HASH,
  verifyChain,
  type AuditEntry,
} from '../../kernel/audit/audit-trail.ts';

/** The canonical form as first written (kernel/audit/audit-trail.ts before the cached order). */
function referenceHash(entry: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.fromEntries(Object.entries(entry).sort(([a], [b]) => a.localeCompare(b))),
  );
  return createHash('sha256')
    .update(entry.prev as string)
    .update('\n')
    .update(canonical)
    .digest('hex');
}

const call = {
  tenant: 'acme',
  user: 'u-1',
  agent: 'a-1',
  tool: 'records_create',
  decision: 'permit' as const,
  reason: 'allowed',
  kind: 'call' as const,
  args_digest: 'd'.repeat(64),
  status: 'error' as const,
  error_code: 'validation_failed',
  error_class: 'validation' as const,
  latency_ms: 1.25,
  trace_id: 'e'.repeat(32),
  seq: 1,
  at: '2026-01-01T00:00:00.000Z',
  prev: GENESIS_HASH,
};
const egress = {
  tenant: 'acme',
  user: null,
  agent: null,
  tool: 'egress',
  decision: 'deny' as const,
  reason: 'egress_denied',
  upstream: {
    host: 'example.com',
    port: 443,
    method: 'CONNECT',
    status: 403,
    bytes_sent: 0,
    bytes_received: 0,
    latency_ms: 0,
    duration_ms: 1,
    pack: 'fetcher',
    upstream: null,
  },
  seq: 2,
  at: '2026-01-01T00:00:01.000Z',
  prev: 'f'.repeat(64),
};
const list = {
  tenant: 'acme',
  user: 'u-1',
  agent: 'a-1',
  tool: 'tools/list',
  decision: 'permit' as const,
  reason: 'listed',
  kind: 'list' as const,
  listed: ['whoami', 'records_get'],
  withheld: ['records_delete'],
  seq: 3,
  at: '2026-01-01T00:00:02.000Z',
  prev: '1'.repeat(64),
};

describe('entryHash', () => {
  it('equals the reference canonical hash for calls, egress records and lists, each time asked', () => {
    for (const entry of [call, egress, list, call, { ...call, latency_ms: 2 }]) {
      expect(entryHash(entry)).toBe(referenceHash(entry));
    }
  });

  it('does not depend on the order the fields were written in', () => {
    const reversed = Object.fromEntries(Object.entries(call).reverse()) as typeof call;
    expect(entryHash(reversed)).toBe(entryHash(call));
  });

  it('still tells a changed entry from the one hashed, and a chain hashed the old way verifies', () => {
    const first: AuditEntry = { ...call, hash: referenceHash(call) };
    const second = { ...list, seq: 2, prev: first.hash };
    const chain: AuditEntry[] = [first, { ...second, hash: referenceHash(second) }];
    expect(verifyChain(chain)).toMatchObject({ ok: true, entries: 2 });
    const tampered = [first, { ...chain[1]!, withheld: [] }];
    expect(verifyChain(tampered)).toMatchObject({ ok: false, problem: 'entry 2: content changed' });
  });

  it('covers the refusals a record counts (`repeats`), as read back from its stored JSON', () => {
    const first: AuditEntry = { ...call, hash: referenceHash(call) };
    const summary = {
      tenant: 'acme',
      user: null,
      agent: 'a-1',
      tool: 'rate_limit_exceeded',
      decision: 'deny' as const,
      reason: 'rate_limit_exceeded',
      kind: 'refusals' as const,
      repeats: { count: 41, tools: ['records_get', 'whoami'], others: 3 },
      seq: 2,
      at: '2026-01-01T00:00:03.000Z',
      prev: first.hash,
    };
    // As a reader gets it: the stored JSON, parsed by the entry schema (which an older one refused).
    const stored = AuditEntrySchema.parse(
      JSON.parse(JSON.stringify({ ...summary, hash: entryHash(summary) })),
    );
    expect(stored.hash).toBe(referenceHash(summary));
    expect(verifyChain([first, stored])).toMatchObject({ ok: true, entries: 2 });
    const fewer = { ...stored, repeats: { ...stored.repeats!, count: 40 } };
    expect(verifyChain([first, fewer])).toMatchObject({ ok: false, problem: 'entry 2: content changed' });
    const renamed = { ...stored, repeats: { ...stored.repeats!, tools: ['whoami'] } };
    expect(verifyChain([first, renamed])).toMatchObject({ ok: false, problem: 'entry 2: content changed' });
  });
});
