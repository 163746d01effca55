// Pack secrets on the real engine and Redis: the supervisor's driver writes the values the tenant's
// packs declare, from the tenant's encrypted store, into the socket directory just before the
// container starts; the runtime hands each pack only its own. Nothing else holds a value: not
// `docker inspect`, the engine's event stream, the container's logs, the image, nor another pack.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnabledPack } from '../../kernel/packs/enabled-packs.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import { packSecretSource } from '../../supervisor/secrets/pack-secrets.ts';
import { recordEvents } from '../support/engine-events.ts';
import { execIn, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, removeImage } from '../support/pack-image.ts';
import { packTenants, type PackTenants } from '../support/pack-tenants.ts';

let ns: TestNamespace;
let redis: Redis;
let store: SecretStore;
let tenants: PackTenants;
let image: string;
let packs: EnabledPack[];
let client: Client | undefined;
const TENANT = 'secrets-a';
const UID = 100_471;
const FIRST = `first-${randomBytes(12).toString('hex')}`;
const ROTATED = `rotated-${randomBytes(12).toString('hex')}`;
const ECHO_VALUE = `echo-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  ns = await testNamespace('pack-secrets');
  redis = new Redis(ns.installation.redis);
  store = new SecretStore({ redis, prefix: ns.installation.registryPrefix, key: randomBytes(32) });
  // Two packs: notes declares NOTES_TOKEN; echo (here) declares ECHO_KEY.
  packs = [await approvePack('notes'), { ...(await approvePack('echo')), secrets: ['ECHO_KEY'] }];
  image = await buildPackImage({ tag: ns.namespace, packs });
  tenants = await packTenants(ns, {
    packSecrets: packSecretSource({
      declared: () => packs.map((p) => ({ pack: p.name, names: p.secrets })),
      store: () => store,
      logger: pino({ level: 'silent' }),
    }),
  });
  await store.put(TENANT, 'NOTES_TOKEN', FIRST);
  await store.put(TENANT, 'ECHO_KEY', ECHO_VALUE);
  // Another name in the store that no pack declares: delivered to nobody.
  await store.put(TENANT, 'UNDECLARED', `undeclared-${randomBytes(8).toString('hex')}`);
});

afterAll(async () => {
  await client?.close();
  redis?.disconnect();
  await ns?.cleanup();
  if (image) await removeImage(image);
});

const whoami = async (): Promise<Record<string, unknown>> => {
  const result = await client!.callTool({ name: 'notes_whoami', arguments: {} });
  return result.structuredContent as Record<string, unknown>;
};

async function connect(socket: Promise<string>): Promise<void> {
  await socket;
  await client?.close();
  client = await tenants.client(TENANT);
}

/** Each process in the container: its command line and the names and values of its environment. */
async function processEnvironments(containerId: string): Promise<{ cmd: string; env: string[] }[]> {
  const script = `const fs=require('fs');const out=[];for(const p of fs.readdirSync('/proc')){if(!/^[0-9]+$/.test(p))continue;try{out.push({cmd:fs.readFileSync('/proc/'+p+'/cmdline','utf8').split('\\0').join(' '),env:fs.readFileSync('/proc/'+p+'/environ','utf8').split('\\0').filter(Boolean)})}catch{}}console.log(JSON.stringify(out))`;
  const { output } = await execIn(ns.docker, containerId, ['node', '-e', script]);
  return JSON.parse(output.slice(output.indexOf('['))) as { cmd: string; env: string[] }[];
}

async function socketDirFiles(): Promise<string[]> {
  return readdir(tenants.driver.placement(TENANT, 0).socketDir);
}

describe('pack secrets', () => {
  it('delivers a declared secret to its pack only, at start; the file is gone once the runtime is up', async () => {
    const events = await recordEvents(ns.docker, ns.namespace);
    try {
      await connect(tenants.start(TENANT, UID, image));
    } finally {
      events.stop();
    }
    const seen = await whoami();
    expect(seen.token).toBe(FIRST);
    // Only its own name: not echo's ECHO_KEY, not the undeclared one.
    expect(seen.env).toContain('NOTES_TOKEN');
    expect(seen.env).not.toContain('ECHO_KEY');
    expect(seen.env).not.toContain('UNDECLARED');
    expect(await socketDirFiles()).not.toContain('.secrets.json');
    const info = (await tenants.driver.inspect(TENANT))!;
    const inside = await execIn(ns.docker, info.runtimeId, ['ls', '-A', '/run/mcp']);
    expect(inside.output).not.toContain('.secrets.json');

    const processes = await processEnvironments(info.runtimeId);
    const notes = processes.filter((p) => p.cmd.includes('/packs/notes/'));
    const echo = processes.filter((p) => p.cmd.includes('/packs/echo/'));
    expect(notes).toHaveLength(1);
    expect(echo).toHaveLength(1);
    expect(notes[0]!.env).toContain(`NOTES_TOKEN=${FIRST}`);
    expect(echo[0]!.env).toContain(`ECHO_KEY=${ECHO_VALUE}`);
    // Each value in exactly one process: the runtime itself and the other pack hold none.
    for (const value of [FIRST, ECHO_VALUE])
      expect(processes.filter((p) => p.env.some((e) => e.includes(value)))).toHaveLength(1);
    expect(echo[0]!.env.some((e) => e.includes(FIRST))).toBe(false);

    // Nothing the engine keeps or reports holds a value.
    const container = ns.docker.getContainer(info.runtimeId);
    const inspected = JSON.stringify(await container.inspect());
    const logs = (await container.logs({ stdout: true, stderr: true })).toString();
    const imageInfo = JSON.stringify(await ns.docker.getImage(info.image).inspect());
    const history = JSON.stringify(await ns.docker.getImage(info.image).history());
    const stream = events.text();
    expect(stream).toContain('"start"');
    for (const value of [FIRST, ECHO_VALUE]) {
      for (const [where, text] of Object.entries({ inspected, logs, imageInfo, history, stream }))
        expect({ where, holds: text.includes(value) }).toEqual({ where, holds: false });
    }
  });

  it('delivers again on a wake from stopped, and a rotated value reaches the pack on recycle', async () => {
    await tenants.driver.stop(TENANT, { graceSeconds: 2 });
    await connect(tenants.start(TENANT, UID, image));
    expect((await whoami()).token).toBe(FIRST);
    expect(await socketDirFiles()).not.toContain('.secrets.json');

    await store.put(TENANT, 'NOTES_TOKEN', ROTATED);
    // The running pack keeps what it started with until its runtime is recycled.
    expect((await whoami()).token).toBe(FIRST);
    await connect(tenants.recycle(TENANT, UID, image));
    expect((await whoami()).token).toBe(ROTATED);
    expect(await socketDirFiles()).not.toContain('.secrets.json');
  });

  it('a leftover file (or a planted symlink) in the socket directory is removed, not followed', async () => {
    const dir = tenants.driver.placement(TENANT, 0).socketDir;
    await tenants.driver.stop(TENANT, { graceSeconds: 2 });
    expect(await socketDirFiles()).not.toContain('.secrets.json');
    const { symlink, writeFile } = await import('node:fs/promises');
    const target = join(ns.runDir, 'elsewhere.json');
    await writeFile(target, 'untouched');
    await symlink(target, join(dir, '.secrets.json'));
    await connect(tenants.start(TENANT, UID, image));
    expect((await whoami()).token).toBe(ROTATED);
    expect(await readFile(target, 'utf8')).toBe('untouched');
  });

  it('values destroyed (as offboarding does) reach no pack at the next start', async () => {
    expect(await store.destroyAll(TENANT)).toEqual(['ECHO_KEY', 'NOTES_TOKEN', 'UNDECLARED']);
    await connect(tenants.recycle(TENANT, UID, image));
    const seen = await whoami();
    expect(seen.token).toBeNull();
    expect(seen.env).not.toContain('NOTES_TOKEN');
  });
});
