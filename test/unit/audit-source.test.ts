// Where `bulkhead audit verify|export <tenant>` looks (tenants/control-plane/audit-segments.ts): an
// offboarded tenant's trail was moved aside, and the refusal says where.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { verifySegments } from '../../tenants/control-plane/audit-segments.ts';

const root = mkdtempSync(join(tmpdir(), 'bulkhead-audit-source-'));
const { publicKey } = generateKeyPairSync('ed25519');

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('an audit source named by tenant', () => {
  it("names the offboarded tenant's moved-aside trail when the tenant has none of its own", async () => {
    const moved = join(root, 'acme.offboarded-2026-12-06T08-00-00-000Z');
    mkdirSync(moved);
    mkdirSync(join(root, 'acmecorp.offboarded-2026-12-06T08-00-00-000Z'));
    await expect(verifySegments({ root, tenant: 'acme' }, publicKey)).rejects.toThrow(
      `${join(root, 'acme')}: no such audit directory; an offboarded tenant's trail is in ${moved} (pass --dir)`,
    );
    await expect(verifySegments({ root, tenant: 'globex' }, publicKey)).rejects.toThrow(
      new RegExp(`${join(root, 'globex')}: no such audit directory$`),
    );
  });
});
