// Benchmark (not a test): what reading the ids of one page of the console's tenant list costs with
// many tenants registered. The ids go into the registry's tenant set only, as an installation from
// before the id order had them; the first page read builds the order (once), the next pages walk it
// with the cursors the console hands out (kernel/registry/tenant-id-page.ts). Beside them, in the
// same run, what each page cost before: the whole set read (SMEMBERS) and sorted. Keys are
// namespaced and removed. Asserts nothing.
//   node test/bench/console-tenant-page.ts [--tenants 20000] [--pages 50]
import { Redis } from 'ioredis';
import { tenantPage } from '../../console/tenant-paging.ts';
import { tenantIdPage, type PagePlace } from '../../kernel/registry/tenant-id-page.ts';
import { tenantSetKey } from '../../kernel/redis/keys.ts';
import { testNamespace } from '../support/namespace.ts';
import { benchArgs } from './bench-args.ts';
import { printFigures, timed } from './figures.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    tenants: { type: 'string', default: '20000' },
    pages: { type: 'string', default: '50' },
  },
});
const [tenants, pages] = [Number(values.tenants), Number(values.pages)];

const ns = await testNamespace('bench-tenant-page');
const redis = new Redis(ns.installation.redis);
try {
  const prefix = ns.installation.registryPrefix;
  for (let i = 0; i < tenants; i += 1000) {
    const ids = Array.from(
      { length: Math.min(1000, tenants - i) },
      (_, k) => `t${String(i + k).padStart(7, '0')}`,
    );
    await redis.sadd(tenantSetKey(prefix), ...ids);
  }
  const read = (place: PagePlace, limit: number) => tenantIdPage({ redis, prefix }, place, limit);
  let cursor: string | null = null;
  const page = async (): Promise<void> => {
    const query = new URLSearchParams(cursor === null ? {} : { cursor });
    cursor = (await tenantPage(read, query, 50)).next;
  };
  console.log(`${tenants} tenants, pages of 50`);
  printFigures('first page, the id order built from the set', await timed(1, page));
  printFigures('a page, walking the order', await timed(pages, page));
  printFigures(
    'before: the whole set read and sorted',
    await timed(pages, async () => (await redis.smembers(tenantSetKey(prefix))).sort()),
  );
} finally {
  redis.disconnect();
  await ns.cleanup();
}
