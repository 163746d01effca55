// A runtime busy with calls answers its health probe late, not never: the probe of a running
// runtime waits `liveProbeMs` (the health pass, an ensure finding it up), so that a slow-but-alive
// runtime is not recycled (which kills the calls it is serving and adds a start to the load), while
// one that does not answer within it is still unhealthy. A real HTTP server on a unix socket owned
// by this UID; its answer is held back by the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeHealth } from '../../supervisor/lifecycle/runtime-health.ts';
import { START_PROBE_MS } from '../../supervisor/runtime/health-probe.ts';
import type { RuntimeInfo } from '../../supervisor/runtime/runtime-driver.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let held: ServerResponse[];
let server: ReturnType<typeof createServer>;
let info: RuntimeInfo;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'busy-health-'));
  held = [];
  // The busy runtime: /healthz is answered only when the test says so.
  server = createServer((_req, res) => void held.push(res));
  const socketPath = join(dir, 'mcp.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const endpoint = { kind: 'unix' as const, socketPath, uid: process.getuid?.() ?? 0 };
  info = { tenantId: 'acme', runtimeId: 'r1', state: 'running', endpoint } as unknown as RuntimeInfo;
});

afterEach(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function health(liveProbeMs: number): RuntimeHealth {
  return new RuntimeHealth({
    view: { inspect: () => Promise.resolve(info) },
    healthTimeoutMs: 15_000,
    liveProbeMs,
  });
}

describe('the health probe of a running runtime', () => {
  it('counts an answer later than a start probe may take as healthy', async () => {
    const checked = health(30_000).check(info, 'supervisor-health');
    // Busy past the start probe's deadline, then it answers.
    await sleep(START_PROBE_MS + 500);
    expect(held).toHaveLength(1);
    held[0]!.writeHead(200).end('{"ok":true}');
    expect(await checked).toBe('healthy');
  }, 20_000);

  it('still finds a runtime that does not answer within liveProbeMs unhealthy', async () => {
    expect(await health(300).check(info, 'supervisor-health')).toBe('unhealthy');
    expect(held).toHaveLength(1);
  });
});
