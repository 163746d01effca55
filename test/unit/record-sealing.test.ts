// Sealing of the router's idempotency records (router/pipeline/record-sealing.ts): what is sealed
// opens only for its tenant, at its place, under its secret, byte for byte; nothing of the text is
// in the sealed form.
import { describe, expect, it } from 'vitest';
import { RecordSealer, recordKey } from '../../router/pipeline/record-sealing.ts';
import { argsDigestKey } from '../../kernel/audit/audit-record.ts';

const SECRET = 'record sealing unit test secret';
const PLACE = 'bulkhead:t:idem:acme:records_create:abc';
const TEXT = JSON.stringify({ state: 'done', digest: 'd'.repeat(64), result: 'the patient record 4711' });

describe('RecordSealer', () => {
  it('opens what it sealed, and the sealed form carries none of the text', () => {
    const sealer = new RecordSealer(SECRET);
    const sealed = sealer.seal('acme', PLACE, TEXT);
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(sealed).not.toContain('patient');
    expect(Buffer.from(sealed.slice(3), 'base64url').toString('latin1')).not.toContain('patient');
    expect(sealer.open('acme', PLACE, sealed)).toBe(TEXT);
    // A second router of the installation (the same secret) opens it too.
    expect(new RecordSealer(SECRET).open('acme', PLACE, sealed)).toBe(TEXT);
  });

  it('seals the same text differently each time (a fresh IV), so equal results do not show', () => {
    const sealer = new RecordSealer(SECRET);
    expect(sealer.seal('acme', PLACE, TEXT)).not.toBe(sealer.seal('acme', PLACE, TEXT));
  });

  it('does not open for another tenant, another place or another secret', () => {
    const sealer = new RecordSealer(SECRET);
    const sealed = sealer.seal('acme', PLACE, TEXT);
    expect(sealer.open('globex', PLACE, sealed)).toBeUndefined();
    expect(sealer.open('acme', `${PLACE}x`, sealed)).toBeUndefined();
    expect(sealer.open('acme', PLACE.replace('records_create', 'records_delete'), sealed)).toBeUndefined();
    expect(new RecordSealer(`${SECRET}!`).open('acme', PLACE, sealed)).toBeUndefined();
  });

  it('does not open a changed, cut or forged record', () => {
    const sealer = new RecordSealer(SECRET);
    const sealed = sealer.seal('acme', PLACE, TEXT);
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    for (const at of [0, 12, 20, bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[at] = changed[at]! ^ 1;
      expect(sealer.open('acme', PLACE, `v1.${changed.toString('base64url')}`), `byte ${at}`).toBeUndefined();
    }
    expect(sealer.open('acme', PLACE, sealed.slice(0, -4))).toBeUndefined();
    expect(sealer.open('acme', PLACE, 'v1.')).toBeUndefined();
    expect(sealer.open('acme', PLACE, `v2.${sealed.slice(3)}`)).toBeUndefined();
    // The format stored before records were sealed: plain JSON is never taken for a record.
    expect(sealer.open('acme', PLACE, TEXT)).toBeUndefined();
  });

  it("derives each tenant's key apart, and apart from the audit's digest key of the same secret", () => {
    const acme = recordKey(SECRET, 'acme');
    expect(acme).toHaveLength(32);
    expect(acme.equals(recordKey(SECRET, 'globex'))).toBe(false);
    expect(acme.equals(recordKey(`${SECRET}!`, 'acme'))).toBe(false);
    expect(acme.equals(argsDigestKey(SECRET, 'acme'))).toBe(false);
  });
});
