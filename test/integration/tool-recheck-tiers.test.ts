// The periodic tool-definition check and the idle tiers, on the real engine. The check walks the
// router's established routes without recording activity (it must not keep an idle tenant awake), so
// the supervisor may pause, stop or replace a runtime under a route the check is about to use. A
// paused container's socket accepts the check's request and never answers, which would hold the
// pass for the whole call deadline, tenant after tenant, and the router's shutdown waits for the
// pass. The check reads the tenant's runtime epoch first and drops a route whose runtime changed,
// unchecked: the next call renews it, and a new runtime's definitions are checked before that call.
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { RouterRuntimeView } from '../../supervisor/client/runtime-epochs.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { containerName } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { containerState } from '../support/frozen.ts';

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startTestStack('recheck-tiers', {
    supervisor: { idleIntervalMs: 3_600_000, healthIntervalMs: 3_600_000 },
  });
  await stack.onboard('drowsy');
  redis = new Redis(stack.ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const engineState = (tenant: string) => containerState(stack.ns.docker, containerName(stack, tenant));

describe('periodic tool-definition check', () => {
  it('does not send the check to a runtime paused since its route was made, and the next call wakes it', async () => {
    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) },
    );
    const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
    let ensured = 0;
    const dispatcher = new TenantDispatcher({
      runtimes: {
        ensure: (tenant) => stack.runtimes.ensure(tenant),
        ensureRuntime: (tenant) => {
          ensured++;
          return stack.runtimes.ensureRuntime(tenant);
        },
      },
      sign: await createCallSigner(await readFile(keys.privateKeyFile, 'utf8')),
      logger,
      guard: new DriftGuard({ approved: RECORDS_TOOLS, logger }),
      // Longer than any answer of a running runtime here; a check sent to a paused one waits it out.
      callTimeoutMs: 3_000,
      stateView: new RouterRuntimeView({ redis, prefix: stack.ns.installation.registryPrefix }),
    });
    const context = { tenant: 'drowsy', user: null, agent: 'agent-1', scopes: ['records:read'] };
    try {
      expect((await dispatcher.callTool(context, 'records_list', {})).isError).toBeFalsy();
      expect(ensured).toBe(1);
      // The route's runtime is current: it is checked, and passes.
      await dispatcher.recheckTools();
      expect(warnings).toEqual([]);

      // The idle tier pauses the runtime (the epoch moves first, as the reaper does it).
      expect(await stack.supervisor.manager.idle('drowsy', { event: 'pause' })).toBe(true);
      expect(await engineState('drowsy')).toBe('paused');
      await dispatcher.recheckTools();
      // Nothing was sent to the paused socket: no check waited out the deadline and failed.
      expect(warnings).toEqual([]);
      expect(await engineState('drowsy')).toBe('paused');

      // The next call renews the route: the supervisor wakes the runtime, and the call is answered.
      expect((await dispatcher.callTool(context, 'records_list', {})).isError).toBeFalsy();
      expect(ensured).toBe(2);
      expect(await engineState('drowsy')).toBe('running');
    } finally {
      await dispatcher.close();
    }
  });
});
