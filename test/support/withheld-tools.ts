// A tool withheld for drift as the routers record it (kernel/registry/withheld-tools.ts), for the
// tests of what operators are shown of it (the console's tenant page, `bulkhead show`).
import type { Redis } from 'ioredis';
import { withheldToolsKey } from '../../kernel/redis/keys.ts';
import { withheldField, withheldValue } from '../../kernel/registry/withheld-tools.ts';

/**
 * Puts an entry in the routers' shared set, as a router whose check found `tool` changed would; the
 * answer takes it out again.
 */
export async function withholdTool(
  redis: Redis,
  prefix: string,
  tenant: string,
  tool: string,
): Promise<() => Promise<void>> {
  const field = withheldField({ tenant, tool, router: 'test-router' });
  const drift = { reason: 'definition_changed', expected: 'a'.repeat(64), actual: 'b'.repeat(64) } as const;
  await redis.hset(withheldToolsKey(prefix), field, withheldValue(drift, Date.now()));
  return async () => void (await redis.hdel(withheldToolsKey(prefix), field));
}
