// Before a call reaches a tenant's runtime the router records the activity and reads the runtime's
// epoch in Redis (supervisor/client/runtime-epochs.ts, RouterRuntimeView). When Redis does not answer
// that in time, nothing was sent: the call is `state_unavailable` (transient, nothing ran), not
// `runtime_call_failed` (a runtime that failed during the call), and no runtime is asked for.
// A redis-server of the test's own, frozen (SIGSTOP: connections open, no answers), with the
// router's own Redis options (router/pipeline/state-guard.ts).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { runtimeFailure } from '../../router/pipeline/call-pipeline.ts';
import { StateRedis } from '../../router/pipeline/state-guard.ts';
import { RouterRuntimeView } from '../../supervisor/client/runtime-epochs.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

const PASSWORD = `pw-${randomUUID()}`;
let redis: PrivateRedis;
let client: StateRedis;

beforeAll(async () => {
  redis = await startPrivateRedis({ password: PASSWORD });
  client = new StateRedis({ port: redis.port, password: PASSWORD, lazyConnect: true }, { deadlineMs: 300 });
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  redis?.thaw();
  client?.disconnect();
  await redis?.stop();
});

describe('the runtime state view not answering', () => {
  it('answers state_unavailable and asks for no runtime', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    let ensures = 0;
    const dispatcher = new TenantDispatcher({
      runtimes: {
        ensure: () => {
          ensures += 1;
          return Promise.reject(new Error('no runtime in this test'));
        },
      },
      sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      logger: pino({ level: 'silent' }),
      stateView: new RouterRuntimeView({ redis: client, prefix: `bulkhead:state-view-${randomUUID()}` }),
    });
    const context = { tenant: 'acme', user: null, agent: 'agent-1', scopes: ['records:read'] };
    redis.freeze();
    const failed = await dispatcher.callTool(context, 'records_list', {}).then(
      () => undefined,
      (error: unknown) => error,
    );
    redis.thaw();
    expect(failed).toBeDefined();
    expect(runtimeFailure(failed)).toMatchObject({ code: 'state_unavailable', retryAfterMs: 1_000 });
    expect(ensures).toBe(0);
    await dispatcher.close();
  });
});
