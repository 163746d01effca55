// Cost of the tool-surface steps on the hot path, in-process and against the real Redis:
//   node test/bench/tool-surface.ts [--calls 20000]
// Prints per-call figures for validation (schema + semantic rules) and for the idempotency store
// (first call, replay). A benchmark prints; it asserts nothing.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { argumentsDigest } from '../../kernel/tools/tool-definition.ts';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '20000' } },
});
const calls = Number(values.calls);
const create = MANIFEST.find((d) => d.name === 'records_create')!;
const bulk = MANIFEST.find((d) => d.name === 'records_bulk_create')!;
const args = {
  title: 'invoice 2026-001',
  body: 'x'.repeat(500),
  tags: ['a', 'b'],
  ref: 'INV-2026-001',
  quantity: 3,
  start_date: '2026-01-01',
  due_date: '2026-02-01',
  idempotency_key: 'bench-key-000001',
};
const bulkArgs = {
  items: Array.from({ length: 50 }, (_, i) => ({ ...args, ref: `r-${i}`, idempotency_key: undefined })).map(
    ({ idempotency_key: _k, ...item }) => item,
  ),
  idempotency_key: 'bench-key-000002',
};

function time(label: string, n: number, run: () => void): void {
  const start = performance.now();
  for (let i = 0; i < n; i++) run();
  const us = ((performance.now() - start) * 1000) / n;
  console.log(`${label.padEnd(44)} ${us.toFixed(1).padStart(8)} µs/call  (${n} calls)`);
}

time('validate records_create (valid)', calls, () => validateToolArguments(create, args));
time('validate records_create (date_order)', calls, () =>
  validateToolArguments(create, { ...args, start_date: '2026-03-01' }),
);
time('validate records_bulk_create (50 items)', Math.ceil(calls / 20), () =>
  validateToolArguments(bulk, bulkArgs),
);
time('argumentsDigest records_create', calls, () => argumentsDigest(args));

const redis = new Redis(parseRedisUrl(REDIS_URL));
const prefix = `bulkhead:bench-${randomUUID().slice(0, 8)}`;
const store = new IdempotencyStore({
  redis,
  prefix,
  sealer: new RecordSealer('tool surface bench secret'),
  windowMs: 60_000,
});
const result = { content: [{ type: 'text' as const, text: '{}' }], structuredContent: {} };
const n = Math.min(calls, 2000);
const keys = Array.from({ length: n }, () => randomUUID());
const created = new Date().toISOString();
for (const phase of ['first call', 'replay'] as const) {
  const start = performance.now();
  for (const key of keys)
    await store.run(
      { tenant: 'bench', tenantCreatedAt: created, tool: 'records_create', key, digest: 'd' },
      () => Promise.resolve(result),
    );
  console.log(
    `${`idempotency store, ${phase} (Redis)`.padEnd(44)} ${(((performance.now() - start) * 1000) / n).toFixed(1).padStart(8)} µs/call  (${n} calls)`,
  );
}
const stale = await redis.keys(`${prefix}:*`);
if (stale.length > 0) await redis.del(...stale);
redis.disconnect();
