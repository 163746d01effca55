// The console's read of a tenant's audit trail for its detail (console/audit-views.ts,
// recentErrors, which TenantViews.detail awaits) in a process of its own, so that a test runs it
// as the compose stack runs the console: another UID, in the sealed segments' readers' group
// (test/integration/audit-first-seal-readers.test.ts). Arguments: the Redis URL, the key prefix,
// the tenant, its record's createdAt, the audit directory and the public key's PEM file. Prints
// the chain it read, or the code of the error the read failed with (the console's detail then
// answers that error instead of the tenant).
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { recentErrors } from '../../console/audit-views.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';

const [url, prefix, tenant, createdAt, root, publicKeyFile] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const redis = new Redis({ ...parseRedisUrl(url), maxRetriesPerRequest: 1 });
try {
  const publicKey = createPublicKey(await readFile(publicKeyFile, 'utf8'));
  const trail = new AuditTrail({ redis, prefix });
  const { chain } = await recentErrors({ trail, tenant, createdAt, sealed: { root, publicKey } }, 10);
  const { ok, entries, problem } = chain;
  process.stdout.write(`${JSON.stringify({ ok, entries, problem, segments: chain.sealed?.segments })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as { code?: string }).code ?? String(error) })}\n`);
} finally {
  redis.disconnect();
}
