// The pack host with real child processes on this machine (no container): secret delivery to the
// declaring pack only, the exact environment of a pack process, and the key table's at-most-once
// states.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { PackHost } from '../../runtime-image/src/packs/pack-host.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { hostPacks } from '../support/pack-host.ts';
import { approvePack, PROXY_VARIABLES } from '../support/pack-image.ts';

let dir: string;
let host: PackHost;
const secretsFile = () => join(dir, 'run', '.secrets.json');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-host-'));
  const packs = [await approvePack('notes'), await approvePack('faulty')];
  await mkdir(join(dir, 'run'));
  await writeFile(
    secretsFile(),
    JSON.stringify({
      notes: { NOTES_TOKEN: 's3cret', UNDECLARED: 'no' },
      faulty: { NOTES_TOKEN: 'not-yours' },
    }),
    { mode: 0o400 },
  );
  host = await hostPacks(dir, packs, { secretsFile: secretsFile() });
  await host.start();
});

afterAll(async () => {
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function whoami(pack: string): Promise<Record<string, unknown>> {
  const client = await host.packs.find((p) => p.name === pack)!.ready();
  if ('code' in client) throw new Error(client.message);
  const tool = pack === 'notes' ? 'whoami' : 'ok';
  return (await client.callTool({ name: tool, arguments: {} })).structuredContent as Record<string, unknown>;
}

describe('pack host processes', () => {
  it('reads the secrets once and removes the file', () => {
    expect(existsSync(secretsFile())).toBe(false);
  });

  it('gives a pack only its own declared secrets, and nothing of the runtime environment', async () => {
    const seen = await whoami('notes');
    expect(seen.token).toBe('s3cret');
    expect(seen.env).toEqual(
      ['BULKHEAD_PACK', 'HOME', 'NOTES_TOKEN', 'PATH', 'TMPDIR', ...PROXY_VARIABLES].sort(),
    );
    expect(seen.home).toBe(join(dir, 'data', 'packs', 'notes'));
  });

  it("confines a pack (Landlock) to its own directories and egress port, whatever the UID's file modes allow", async () => {
    // The records pack's database is on the same volume, writable by the same UID (here even root).
    await mkdir(join(dir, 'data', 'packs', 'records'), { recursive: true });
    const records = join(dir, 'data', 'packs', 'records', 'records.db');
    await writeFile(records, 'the records data');
    const client = await host.packs.find((p) => p.name === 'faulty')!.ready();
    if ('code' in client) throw new Error(client.message);
    const call = async (name: string) =>
      (await client.callTool({ name, arguments: {} })).structuredContent as Record<string, unknown>;
    expect(await call('escape')).toMatchObject({
      own: 'ok',
      ownTmp: 'ok',
      records: 'EACCES',
      readRecords: 'EACCES',
      otherPack: 'EACCES',
      tmp: 'EACCES',
      root: 'EACCES',
      signalRuntime: 'EPERM',
    });
    expect(await readFile(records, 'utf8')).toBe('the records data');
    expect(existsSync(join(dir, 'data', 'packs', 'intruder'))).toBe(false);
    // Another loopback port than its own: refused before any connection is tried.
    expect(await call('ports')).toEqual({ other: 'EACCES' });
  });

  it('serves only tools whose live digest is the approved one', () => {
    const served = host.servedTools().map((t) => t.wire.name);
    expect(served).toContain('notes_write');
    expect(served).toContain('faulty_ok');
  });
});

describe('pack key table', () => {
  it('claims once, then replays a completed key, refuses other arguments, and keeps an unanswered key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulkhead-pack-keys-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const keys = new PackKeys(join(dir, 'k.db'), { idempotencyWindowMs: 60_000 });
    expect(keys.claim('t', 'k1', 'd1')).toEqual({ kind: 'fresh' });
    expect(keys.claim('t', 'k1', 'd1')).toEqual({ kind: 'pending' });
    expect(keys.claim('t', 'k1', 'd2')).toEqual({ kind: 'conflict' });
    keys.complete('t', 'k1', { ok: 1 });
    expect(keys.claim('t', 'k1', 'd1')).toEqual({ kind: 'replay', resultJson: '{"ok":1}' });
    expect(keys.claim('t', 'k2', 'd1')).toEqual({ kind: 'fresh' });
    keys.release('t', 'k2');
    expect(keys.claim('t', 'k2', 'd1')).toEqual({ kind: 'fresh' });
    // A completed key is never released.
    keys.release('t', 'k1');
    expect(keys.claim('t', 'k1', 'd1').kind).toBe('replay');
    keys.close();
  });
});
