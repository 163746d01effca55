// A runtime ends idle kept-alive connections on its own (its keep-alive timeout, a restart). A call
// the router writes on such a connection before it has read the close is refused by the socket
// (`write EPIPE`): nothing reached the runtime, so the router sends it again, once, on a new
// connection of the same route, and the tool runs exactly once. A hostile runtime that ends every
// connection as it is made costs a bounded number of writes, then the caller gets a structured
// error. A real MCP server (or a bare socket server) on a real unix socket; the real dispatcher and
// signer; the only stand-in is the RuntimeLocator port.
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { startRogueRuntime, type RogueRuntime } from '../support/rogue-runtime.ts';

let dir: string;
let runtime: RogueRuntime;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-stale-connection-'));
  runtime = await startRogueRuntime(join(dir, 'mcp.sock'));
});

afterAll(async () => {
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

const context = { tenant: 'initech', user: 'u-1', agent: 'agent-1', scopes: ['records:read'] };

/** The real dispatcher, its route always the socket at `socketPath`; `ensured` counts the asks. */
async function dispatcherTo(socketPath: string) {
  const { privateKey } = generateKeyPairSync('ed25519');
  const counts = { ensured: 0 };
  const dispatcher = new TenantDispatcher({
    runtimes: {
      ensure: () => {
        counts.ensured++;
        return Promise.resolve({ kind: 'unix', socketPath, uid: process.getuid!() });
      },
    },
    sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    logger: pino({ level: 'silent' }),
    guard: new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) }),
  });
  return { dispatcher, counts };
}

describe('a kept-alive connection the runtime has ended', () => {
  it('a call written on it is sent again on a new connection, once, and runs once', async () => {
    const { dispatcher, counts } = await dispatcherTo(join(dir, 'mcp.sock'));
    try {
      for (let round = 1; round <= 5; round++) {
        // Ended in the same turn as the call that follows: the router has not read the close.
        runtime.endIdleConnections();
        const answer = await dispatcher.callTool(context, 'records_list', {});
        expect(answer.isError).toBeFalsy();
        expect(runtime.calls.get('records_list')).toBe(round);
      }
      // The route was kept: a refused write says nothing against the runtime.
      expect(counts.ensured).toBe(1);
      // And the definition check on a route's kept-alive connection is resent the same way.
      runtime.endIdleConnections();
      await dispatcher.recheckTools();
      expect(runtime.calls.get('tools/list')).toBe(2);
      expect(counts.ensured).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('a runtime that ends every connection as it is made', () => {
  it('has each call written at most four times, the route asked for twice, then a structured error', async () => {
    const socketPath = join(dir, 'hostile.sock');
    let connections = 0;
    const hostile = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    hostile.listen(socketPath);
    await once(hostile, 'listening');
    const { dispatcher, counts } = await dispatcherTo(socketPath);
    try {
      for (let call = 1; call <= 3; call++) {
        const [before, asked] = [connections, counts.ensured];
        const failed = await dispatcher.callTool(context, 'records_list', {}).then(
          () => undefined,
          (error: unknown) => error,
        );
        // A new route's definition check is the first request on it: refused or cut off, the call
        // itself is never sent. Each request is written at most twice on a route (once more when
        // the socket refused the write), on two routes at most.
        expect(isBulkheadError(failed, 'runtime_unavailable')).toBe(true);
        expect(connections - before).toBeGreaterThanOrEqual(1);
        expect(connections - before).toBeLessThanOrEqual(4);
        expect(counts.ensured - asked).toBeGreaterThanOrEqual(1);
        expect(counts.ensured - asked).toBeLessThanOrEqual(2);
      }
    } finally {
      await dispatcher.close();
      hostile.close();
    }
  });
});
