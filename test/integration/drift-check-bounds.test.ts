// The periodic tool-definition check reads from the runtime too, so its reads are bounded like a
// call's: a runtime that answers the check's `tools/list` with an oversized body is cut off and
// reported as a security event (the router's own context, tool `tools/list`), and its route is
// dropped. A real MCP server, then a hostile one, on a real unix socket; the only stand-in is the
// RuntimeLocator port.
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_READ_BOUNDS } from '../../router/dispatch/bounded-fetch.ts';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher, type ReadBreach } from '../../router/dispatch/tenant-dispatcher.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { startRogueRuntime } from '../support/rogue-runtime.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-drift-bounds-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bounded tool-definition check', () => {
  it('cuts off an oversized tools/list answer and reports it as a security event', async () => {
    const socketPath = join(dir, 'mcp.sock');
    const honest = await startRogueRuntime(socketPath);
    const { privateKey } = generateKeyPairSync('ed25519');
    const breaches: ReadBreach[] = [];
    let ensured = 0;
    const dispatcher = new TenantDispatcher({
      runtimes: {
        ensure: () => {
          ensured++;
          return Promise.resolve({ kind: 'unix', socketPath, uid: process.getuid!() });
        },
      },
      sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      logger: pino({ level: 'silent' }),
      guard: new DriftGuard({ approved: RECORDS_TOOLS, logger: pino({ level: 'silent' }) }),
      bounds: { ...DEFAULT_READ_BOUNDS, maxResponseBytes: 1024 * 1024 },
      onBreach: (breach) => {
        breaches.push(breach);
        return Promise.resolve();
      },
    });
    const context = { tenant: 'initech', user: null, agent: 'agent-1', scopes: ['records:read'] };
    expect((await dispatcher.callTool(context, 'records_list', {})).isError).toBeFalsy();
    await honest.close();

    // The same socket path, now answered by a server that sends up to 64 MiB to anything.
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const hostile = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      const more = (): void => {
        while (sent < 64 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    hostile.listen(socketPath);
    await once(hostile, 'listening');
    try {
      await dispatcher.recheckTools();
      expect(breaches).toHaveLength(1);
      expect(breaches[0]).toMatchObject({
        tool: 'tools/list',
        kind: 'response_too_large',
        context: { tenant: 'initech', agent: 'bulkhead-router', user: null },
      });
      expect(sent).toBeLessThan(64 * 1024 * 1024);
      // The route is dropped: the next call asks the locator again.
      const before = ensured;
      await dispatcher.callTool(context, 'records_list', {}).catch(() => undefined);
      expect(ensured).toBe(before + 1);
    } finally {
      await dispatcher.close();
      hostile.closeAllConnections();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });
});
