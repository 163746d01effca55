// Hostile packs on the real engine: each fault is contained inside the tenant's container and
// answered with a structured error, the runtime keeps answering, the pack comes back, and a
// bystander tenant on the same engine is unaffected.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_ASSERTION_HEADER } from '../../kernel/wire/call-assertion.ts';
import { mcpHeaders, RUNTIME_ENVELOPE } from '../../router/dispatch/runtime-request.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, removeImage } from '../support/pack-image.ts';
import { packTenants, type PackTenants } from '../support/pack-tenants.ts';

const CALL_TIMEOUT_MS = 2_000;
let ns: TestNamespace;
let tenants: PackTenants;
const images: string[] = [];
let faulty: Client;
let looping: Client;
let bystander: Client;

beforeAll(async () => {
  ns = await testNamespace('packs-faults');
  const env = {
    BULKHEAD_PACK_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
    BULKHEAD_PACK_MAX_MESSAGE_BYTES: String(1024 * 1024),
  };
  images.push(
    await buildPackImage({
      tag: `${ns.namespace}-faulty`,
      packs: [await approvePack('faulty')],
      // High enough that the faults below, one after another, do not open this pack's circuit.
      env: { ...env, BULKHEAD_PACK_CRASH_THRESHOLD: '50' },
    }),
    await buildPackImage({
      tag: `${ns.namespace}-loop`,
      packs: [await approvePack('crashloop')],
      env: { ...env, BULKHEAD_PACK_CRASH_THRESHOLD: '3' },
    }),
  );
  tenants = await packTenants(ns);
  await Promise.all([
    tenants.start('faulty-a', 100_441, images[0]!),
    tenants.start('loop-a', 100_442, images[1]!),
    tenants.start('bystander', 100_443, RUNTIME_IMAGE),
  ]);
  [faulty, looping, bystander] = await Promise.all([
    tenants.client('faulty-a'),
    tenants.client('loop-a'),
    tenants.client('bystander'),
  ]);
});

afterAll(async () => {
  await Promise.all([faulty, looping, bystander].map((c) => c?.close()));
  await ns?.cleanup();
  for (const image of images) await removeImage(image);
});

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const started = performance.now();
  const result = await client.callTool({ name, arguments: args });
  return {
    result,
    structured: result.structuredContent as Record<string, unknown>,
    ms: performance.now() - started,
  };
}

/** The pack answers again (a fresh process) and the bystander tenant was never disturbed. */
async function recovered(): Promise<number> {
  const ok = await call(faulty, 'faulty_ok');
  expect(ok.structured).toMatchObject({ ok: true });
  const records = await call(bystander, 'records_list', {});
  expect(records.result.isError).toBeFalsy();
  return ok.structured.pid as number;
}

describe('pack faults', () => {
  it('a pack that crashes mid-write: transient, restarted; the key is not dispatched again', async () => {
    const before = await recovered();
    const key = `crash-${randomUUID()}`;
    const crashed = await call(faulty, 'faulty_crash', { idempotency_key: key });
    expect(crashed.structured).toMatchObject({
      error: { code: 'pack_unavailable', error_class: 'transient', retryable: true },
    });
    const retried = await call(faulty, 'faulty_crash', { idempotency_key: key });
    expect(retried.structured).toMatchObject({
      error: { code: 'pack_outcome_unknown', error_class: 'conflict' },
    });
    expect(await recovered()).not.toBe(before);
  });

  it('a pack that hangs is killed at the timeout', async () => {
    const before = await recovered();
    const hung = await call(faulty, 'faulty_hang');
    // pack_timeout is the pack deadline's own answer (a hang would fail the test at its timeout).
    expect(hung.structured).toMatchObject({ error: { code: 'pack_timeout', error_class: 'transient' } });
    expect(await recovered()).not.toBe(before);
  });

  it('garbage on stdout is dropped; the call times out and the pack is replaced', async () => {
    const garbage = await call(faulty, 'faulty_garbage');
    expect(garbage.structured).toMatchObject({ error: { code: 'pack_timeout' } });
    await recovered();
  });

  it('an oversized message kills the pack at once (bounded reader)', async () => {
    const big = await call(faulty, 'faulty_oversized');
    // pack_unavailable, not the deadline's pack_timeout: the reader's bound ended the call.
    expect(big.structured).toMatchObject({ error: { code: 'pack_unavailable' } });
    await recovered();
  });

  it("a pack has no network, and reaches nothing of the volume, /tmp, the runtime, other processes' environments or the egress ports but its own", async () => {
    const network = await call(faulty, 'faulty_network');
    expect(network.structured.network).not.toBe('connected');
    const escape = await call(faulty, 'faulty_escape');
    // The read-only root refuses first; on the tenant's own volume, which the pack's UID owns,
    // Landlock (runtime-image/src/packs/pack-confine.py) does.
    expect(escape.structured).toEqual({
      root: 'EROFS',
      app: 'EROFS',
      packs: 'EROFS',
      own: 'ok',
      records: 'EACCES',
      readRecords: 'EACCES',
      otherPack: 'EACCES',
      tmp: 'EACCES',
      ownTmp: 'ok',
      signalRuntime: 'EPERM',
      // The tenant's UID runs every process of the container, yet the pack reads no other process's
      // environment (another pack's holds its secrets) in /proc: ptrace's access check refuses it.
      // On the host, as root, the launcher alone does not (pack-host-process.test.ts omits these).
      runtimeEnviron: 'EACCES',
      otherEnvirons: 0,
    });
    // The port before its own is the tenant-wide proxy's (or another pack's), listening: refused.
    expect((await call(faulty, 'faulty_ports')).structured).toEqual({ other: 'EACCES' });
    expect((await call(faulty, 'records_list', {})).result.isError).toBeFalsy();
  });

  it("a result that breaks its tool's output schema is refused by the runtime, not passed on", async () => {
    // Raw, as the router sends it: a client library of the test's own would check the schema too.
    const socketPath = await tenants.start('faulty-a', 100_441, images[0]!);
    const params = {
      name: 'faulty_mistyped',
      arguments: {},
      _meta: RUNTIME_ENVELOPE,
    };
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params });
    const context = { tenant: 'faulty-a', user: 'alice', agent: 'agent-1', scopes: [] };
    const agent = new Agent({ connect: { socketPath } });
    try {
      const answer = await request('http://tenant/mcp', {
        method: 'POST',
        dispatcher: agent,
        headers: {
          ...mcpHeaders('tools/call', params),
          [CALL_ASSERTION_HEADER]: await tenants.sign(context, body),
        },
        body,
      });
      const text = await answer.body.text();
      expect(answer.statusCode).toBe(200);
      expect(text).not.toContain('many');
      expect(JSON.stringify(JSON.parse(text))).toMatch(/output schema|structured content/i);
    } finally {
      await agent.close();
    }
    await recovered();
  });

  it('a crash-looping pack opens its circuit: a clear error with retry_after_ms, the runtime answers', async () => {
    const codes: string[] = [];
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 5 && !codes.includes('pack_circuit_open'); i++) {
      last = (await call(looping, 'crashloop_never')).structured;
      codes.push((last.error as { code: string }).code);
    }
    expect(codes).toContain('pack_circuit_open');
    expect(last).toMatchObject({ error: { error_class: 'transient', retryable: true } });
    expect((last.error as { retry_after_ms: number }).retry_after_ms).toBeGreaterThan(1_000);
    expect((await call(looping, 'records_list', {})).result.isError).toBeFalsy();
  });

  it('a fork bomb hits the PIDs limit; the runtime answers, the pack is killed with its children', async () => {
    const bomb = await call(faulty, 'faulty_forkbomb');
    expect(bomb.structured).toMatchObject({ error: { code: 'pack_timeout' } });
    expect((await call(faulty, 'records_list', {})).result.isError).toBeFalsy();
    const during = await tenants.driver.usage('faulty-a');
    expect(during?.pidsRefused).toBeGreaterThan(0);
    await recovered();
    // The killed group freed its PIDs: the runtime, the init process and the fresh pack remain.
    expect((await tenants.driver.usage('faulty-a'))?.pids).toBeLessThan(30);
  });
});
