// The warm write's floor (warm-writes.ts): the bare SDK server (`createMcpHandler`, stateless, no
// authentication) whose tools/call hands the call to the tenant's runtime through the router's own
// dispatcher, and waits for Redis as the router does for its controls when its client is alone:
// before the call for two round trips at once (where the router takes the rate limits and sends the
// idempotency claim with the take, router/pipeline/held-ahead.ts) and after it (the audit record).
// Each wait is a round trip of an empty script, grouped as redis-floor.ts groups them; none of the
// controls' own work. A write through the router, which does all of that and its controls'
// work besides, cannot be faster than this floor.
import type { Redis } from 'ioredis';
import type { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { groupedRoundTrip } from './redis-floor.ts';
import { serveBareSdk, type BareSdkServer } from './bare-sdk-server.ts';

export interface WriteFloorOptions {
  dispatcher: Pick<TenantDispatcher, 'callTool'>;
  /** Who every call is sent to the runtime as (the router derives it from the verified token). */
  context: CallContext;
  redis: Redis;
}

export async function startWriteFloor(options: WriteFloorOptions): Promise<BareSdkServer> {
  const { dispatcher, context, redis } = options;
  const [take, claim, audit] = await Promise.all([
    groupedRoundTrip(redis),
    groupedRoundTrip(redis),
    groupedRoundTrip(redis),
  ]);
  return serveBareSdk('write-floor', (server) => {
    server.setRequestHandler('tools/call', async (request) => {
      await Promise.all([take(), claim()]);
      const answer = await dispatcher.callTool(context, request.params.name, request.params.arguments ?? {});
      await audit();
      return answer;
    });
  });
}
