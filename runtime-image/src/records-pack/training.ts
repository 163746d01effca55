// Run once by the image build (runtime-image/Dockerfile), never in a tenant's container: starts the
// records pack as the runtime would (its entry with BULKHEAD_CODE_CACHE=write, its working
// directory a throw-away one) and drives over its stdio what a cold start and a first call run:
// the handshake, the tool list, a write, its replay and a read. The pack records its V8 code cache
// when it exits (stdin closed). Any unexpected answer fails the build, as the runtime's training.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BulkheadError } from '../../../kernel/errors/bulkhead-error.ts';
import { ACTOR_META_KEY } from '../packs/reference-meta.ts';

const ENTRY = process.argv[2] ?? '/opt/bulkhead/packs/records/server.mjs';
const fail = (message: string): never => {
  throw new BulkheadError('runtime_failed', `records pack code cache training: ${message}`);
};

const dir = mkdtempSync(join(tmpdir(), 'records-pack-'));
const child = spawn(process.execPath, [ENTRY, '--idempotency-window-ms=60000'], {
  cwd: dir,
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { PATH: process.env.PATH ?? '', HOME: dir, BULKHEAD_CODE_CACHE: 'write' },
});
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
const answers = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
createInterface({ input: child.stdout }).on('line', (line) => {
  const message = JSON.parse(line) as { id?: number; result?: unknown; error?: unknown };
  if (typeof message.id === 'number') answers.get(message.id)?.(message);
});

let next = 0;
function rpc(method: string, params: object): Promise<{ result?: unknown; error?: unknown }> {
  const id = ++next;
  const answered = new Promise<{ result?: unknown; error?: unknown }>((resolve) => answers.set(id, resolve));
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${method}: no answer within 10 s`)), 10_000).unref(),
  );
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
  return Promise.race([answered, timeout]);
}

try {
  const init = await rpc('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'code-cache-training', version: '1' },
  });
  if (!init.result) fail(`initialize answered ${JSON.stringify(init)}`);
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  const _meta = { [ACTOR_META_KEY]: 'training' };
  const create = {
    name: 'records_create',
    arguments: { title: 'training', idempotency_key: 'training-1' },
    _meta,
  };
  for (const [method, params] of [
    ['tools/list', {}],
    ['tools/call', create],
    ['tools/call', create], // the replay of a known idempotency key
    ['tools/call', { name: 'records_list', arguments: { limit: 5 }, _meta }],
  ] as const) {
    const answer = await rpc(method, params);
    const text = JSON.stringify(answer);
    if (!answer.result || text.includes('"isError":true')) fail(`${method} answered ${text.slice(0, 300)}`);
  }
  child.stdin.end();
  if ((await exited) !== 0) fail('the pack did not exit cleanly');
  const cache = ENTRY.replace(/server\.mjs$/, 'runtime.cjs.cache');
  console.log(`records pack code cache: ${cache}, ${Math.round(statSync(cache).size / 1024)} KiB`);
} finally {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
