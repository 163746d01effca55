// The runtime's pack call path (callPackTool) with real pack processes on this machine (no
// container), on a short call timeout: a pack's question answered after longer than the timeout
// completes the call, the pack untouched; a question never answered ends the call at the question's
// own bound, the pack untouched; a pack that hangs with no question is still killed at the timeout.
// And the key table after a JSON-RPC error: the answer is kept and replayed, the tool not run again.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { ServerContext } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callPackTool, type PackCallOptions } from '../../runtime-image/src/packs/pack-calls.ts';
import { InputExchanges } from '../../runtime-image/src/packs/pack-exchanges.ts';
import type { PackHost, ServedTool } from '../../runtime-image/src/packs/pack-host.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import type { PackCallSpan } from '../../runtime-image/src/tracing/pack-span.ts';
import { hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';

const CALL_TIMEOUT_MS = 1_500;
/** The question's own bound here: longer than the call timeout, as in production. */
const WAIT_MS = 2_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let host: PackHost;
let keys: PackKeys;
let exchanges: InputExchanges;
const logged: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-waits-'));
  const [notes, faulty] = [await approvePack('notes'), await approvePack('faulty')];
  // Writes here, whatever the fixture's manifest says: a JSON-RPC error and a refused result.
  const writes = new Set(['refuse', 'mistyped']);
  faulty.tools = faulty.tools.map((t) => (writes.has(t.name) ? { ...t, effect: 'create' } : t));
  const sink = new Writable({ write: (chunk, _encoding, done) => done(void logged.push(String(chunk))) });
  host = await hostPacks(dir, [notes, faulty], {
    callTimeoutMs: CALL_TIMEOUT_MS,
    log: pino({ level: 'info' }, sink),
  });
  await host.start();
  keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
  exchanges = new InputExchanges({ waitMs: WAIT_MS });
}, 30_000);

afterAll(async () => {
  keys?.close();
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The request a call (or its retry with answers) arrives on, as the runtime's server gives it. */
function request(retry?: { state: string; responses: Record<string, unknown> }): ServerContext {
  return {
    mcpReq: {
      signal: new AbortController().signal,
      notify: () => Promise.resolve(),
      requestState: () => retry?.state,
      inputResponses: retry?.responses,
    },
    http: { authInfo: { extra: { callContext: { user: 'alice', agent: 'agent-1' } } } },
  } as unknown as ServerContext;
}

const failures: string[] = [];
const span = {
  traceparent: undefined,
  started: () => undefined,
  fail: (type: string) => void failures.push(type),
  asked: () => undefined,
  end: () => undefined,
} satisfies PackCallSpan;

function call(tool: string | ServedTool, ctx = request(), args: Record<string, unknown> = {}) {
  const served = typeof tool === 'string' ? host.servedTool(tool)! : tool;
  const options: PackCallOptions = {
    host,
    keys,
    callTimeoutMs: CALL_TIMEOUT_MS,
    connection: new AbortController().signal,
    exchanges,
    actor: 'alice',
    span,
  };
  return callPackTool(served, { arguments: args }, ctx, options) as Promise<Record<string, unknown>>;
}

const pid = (pack: string): number | undefined => host.packs.find((p) => p.name === pack)!.pid;
const kills = (): string[] => logged.filter((line) => /killing pack|pack exited/.test(line));

interface Asked {
  resultType: string;
  requestState: string;
  inputRequests: Record<string, { method: string }>;
}

describe("a pack's question and the call timeout", () => {
  it('answered after longer than the timeout: the call completes, the same pack process, no crash', async () => {
    await call('notes_whoami');
    const before = pid('notes');
    const asked = (await call('notes_ask')) as unknown as Asked;
    expect(asked.resultType).toBe('input_required');
    const [[key, question]] = Object.entries(asked.inputRequests) as [[string, { method: string }]];
    expect(question.method).toBe('elicitation/create');
    // A person typing: well past the call timeout, within the question's own bound.
    await sleep(CALL_TIMEOUT_MS + 300);
    const answer = { action: 'accept', content: { name: 'Ada' } };
    const result = await call(
      'notes_ask',
      request({ state: asked.requestState, responses: { [key]: answer } }),
    );
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual(answer);
    expect(pid('notes')).toBe(before);
    expect(kills()).toEqual([]);
  }, 30_000);

  it('never answered: the call ends at the question’s own bound, cancelled, the pack not stopped', async () => {
    const before = pid('notes');
    failures.length = 0;
    const asked = (await call('notes_ask')) as unknown as Asked;
    expect(asked.resultType).toBe('input_required');
    await sleep(WAIT_MS + 500);
    expect(failures).toEqual(['cancelled']);
    expect(pid('notes')).toBe(before);
    expect(kills()).toEqual([]);
    // A retry after the bound finds no open question.
    const late = await call('notes_ask', request({ state: asked.requestState, responses: {} }));
    expect(late.structuredContent).toMatchObject({ error: { code: 'request_state_invalid' } });
    // And the pack serves the next call as before.
    expect((await call('notes_whoami')).isError).toBeUndefined();
    expect(pid('notes')).toBe(before);
  }, 30_000);

  it('a pack that hangs with no question outstanding is still killed at the timeout', async () => {
    await call('faulty_ok');
    const before = pid('faulty');
    const started = Date.now();
    const hung = await call('faulty_hang');
    expect(Date.now() - started).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS - 50);
    expect(hung.structuredContent).toMatchObject({ error: { code: 'pack_timeout' } });
    expect(JSON.stringify(hung)).toContain('the pack was stopped');
    expect(pid('faulty')).not.toBe(before);
    expect(kills().some((line) => line.includes('killing pack'))).toBe(true);
  }, 30_000);
});

describe('the key of a write answered with a JSON-RPC error', () => {
  const keyed = (key: string) => ({ idempotency_key: key });

  it('keeps the answer: a retry with the key gets the same error, and the pack is not called again', async () => {
    const first = call('faulty_refuse', request(), keyed('refused-1'));
    await expect(first).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/\(\d+\)/) });
    const message = ((await first.catch((error: Error) => error)) as Error).message;
    // Not pack_outcome_unknown for the whole window, and not a second run (its number would grow).
    await expect(call('faulty_refuse', request(), keyed('refused-1'))).rejects.toMatchObject({
      code: -32602,
      message,
    });
  }, 30_000);

  it('keeps the runtime refusing a result that breaks its output schema: the tool ran, it does not run again', async () => {
    const first = call('faulty_mistyped', request(), keyed('mistyped-1'));
    await expect(first).rejects.toThrow(/output schema/);
    const message = ((await first.catch((error: Error) => error)) as Error).message;
    await expect(call('faulty_mistyped', request(), keyed('mistyped-1'))).rejects.toThrow(message);
  }, 30_000);

  it('releases the key of a pack that honours keys itself: the retry reaches the pack', async () => {
    const served = host.servedTool('faulty_refuse')!;
    const honouring = { ...served, pack: { ...served.pack, idempotency: 'pack' as const } };
    const number = async (): Promise<number> => {
      const error = (await call(honouring, request(), keyed('refused-2')).catch((e: Error) => e)) as Error;
      return Number(/\((\d+)\)/.exec(error.message)![1]);
    };
    const first = await number();
    expect(await number()).toBe(first + 1);
  }, 30_000);
});
