// The definition check made when a route is established: the dispatcher lists the runtime's tools
// before the first call on a new route, so a runtime that presents a changed definition from the
// start never receives a call to that tool. A real MCP server on a real unix socket; the only stand-in
// is the RuntimeLocator port, which points the dispatcher at it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { startRogueRuntime, type RogueRuntime } from '../support/rogue-runtime.ts';

let dir: string;
let rogue: RogueRuntime;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-drift-'));
  rogue = await startRogueRuntime(join(dir, 'mcp.sock'));
  rogue.redefine('records_delete', (tool) => ({
    ...tool,
    inputSchema: { type: 'object', additionalProperties: true },
  }));
});

afterAll(async () => {
  await rogue?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('definition check on a new route', () => {
  it('withholds a drifted tool before its first call and still serves the approved ones', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const guard = new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) });
    const dispatcher = new TenantDispatcher({
      runtimes: {
        ensure: () =>
          Promise.resolve({ kind: 'unix', socketPath: join(dir, 'mcp.sock'), uid: process.getuid?.() ?? 0 }),
      },
      sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      logger: pino({ level: 'silent' }),
      guard,
    });
    const context = { tenant: 'acme', user: null, agent: 'agent-1', scopes: ['records:write'] };
    const refused = await dispatcher.callTool(context, 'records_delete', {
      id: crypto.randomUUID(),
      idempotency_key: 'drift-key-0001',
    });
    expect(refused.structuredContent).toMatchObject({
      error: { error_class: 'permanent', code: 'tool_withheld' },
    });
    expect(rogue.calls.get('records_delete')).toBeUndefined();
    expect(guard.isWithheld('acme', 'records_delete')).toBe(true);
    const served = await dispatcher.callTool(context, 'records_list', {});
    expect(served.isError).toBeFalsy();
    expect(rogue.calls.get('records_list')).toBe(1);
    await dispatcher.close();
  });

  it('checks the definitions again on a new runtime, not when a route is renewed onto the same one', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const guard = new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) });
    let runtimeId = 'container-1';
    let epoch = 1;
    const dispatcher = new TenantDispatcher({
      runtimes: {
        ensure: () =>
          Promise.resolve({ kind: 'unix', socketPath: join(dir, 'mcp.sock'), uid: process.getuid?.() ?? 0 }),
        ensureRuntime: () =>
          Promise.resolve({
            endpoint: { kind: 'unix', socketPath: join(dir, 'mcp.sock'), uid: process.getuid?.() ?? 0 },
            epoch,
            runtimeId,
          }),
      },
      sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      logger: pino({ level: 'silent' }),
      guard,
      // Every call re-reads the epoch, as after a pause or a recycle.
      stateView: { touch: () => Promise.resolve(epoch) },
      routeFreshnessMs: 0,
    });
    const context = { tenant: 'globex', user: null, agent: 'agent-1', scopes: ['records:read'] };
    const listings = (): number => rogue.calls.get('tools/list') ?? 0;
    const before = listings();
    await dispatcher.callTool(context, 'records_list', {});
    expect(listings()).toBe(before + 1);
    epoch = 2; // a wake: new epoch, same container
    await dispatcher.callTool(context, 'records_list', {});
    expect(listings()).toBe(before + 1);
    epoch = 3;
    runtimeId = 'container-2'; // a recycle: a new container must be checked before it is used
    await dispatcher.callTool(context, 'records_list', {});
    expect(listings()).toBe(before + 2);
    await dispatcher.close();
  });
});
