// The tenant runtime image, started with testcontainers from the locally built image: it serves
// MCP on its socket only to callers that carry the router's proof of origin.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { chown, copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import Docker from 'dockerode';
import { pino } from 'pino';
import { Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { CALL_ASSERTION_HEADER, bodyDigest, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { RecordsStore } from '../../runtime-image/src/records-pack/records-store.ts';
import { hardenedRuntime, runtimeDirs } from '../support/runtime-container.ts';

const UID = 100_301;
const TENANT = 'imagecheck';
const keys = () =>
  generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const router = keys();
const attacker = keys();
const context: CallContext = { tenant: TENANT, user: 'alice', agent: 'agent-1', scopes: ['records:write'] };

let dir: string;
let container: StartedTestContainer;
let socketPath: string;

function post(body: string, assertion?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (assertion) headers[CALL_ASSERTION_HEADER] = assertion;
    const req = request({ socketPath, path: '/mcp', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

async function assertion(options: {
  key?: string;
  tenant?: string;
  body: string;
  iat?: number;
  exp?: number;
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...context, tenant: options.tenant ?? TENANT, bh: bodyDigest(options.body) })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer('bulkhead-router')
    .setAudience(`bulkhead-tenant:${options.tenant ?? TENANT}`)
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(options.exp ?? now + 30)
    .setJti(randomUUID())
    .sign(await importPKCS8(options.key ?? router.privateKey, 'EdDSA'));
}

/** The legacy record's id: written where runtimes before the records pack kept the database. */
let legacyId: string;

/**
 * A records database at the volume's root, as a runtime before the reference pack left it when it
 * was killed: its last write only in the write-ahead log (copied while the store is open).
 */
async function legacyRecordsDb(dataDir: string): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'bulkhead-legacy-'));
  const store = new RecordsStore(join(scratch, 'records.db'), { idempotencyWindowMs: 60_000 });
  legacyId = store.create({ title: 'from before the pack', body: '', tags: [] }, 'bob').id;
  for (const file of await readdir(scratch)) {
    await copyFile(join(scratch, file), join(dataDir, file));
    await chown(join(dataDir, file), UID, UID);
  }
  expect(await readdir(dataDir)).toContain('records.db-wal');
  store.close();
  await rm(scratch, { recursive: true, force: true });
}

const listBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

beforeAll(async () => {
  dir = await runtimeDirs('bulkhead-image-', UID);
  socketPath = join(dir, 'run', 'mcp.sock');
  await legacyRecordsDb(join(dir, 'data'));
  container = await hardenedRuntime({
    uid: UID,
    dir,
    namespace: 'test-runtime-image',
    environment: { BULKHEAD_TENANT_ID: TENANT, BULKHEAD_ROUTER_PUBLIC_KEY: router.publicKey },
  })
    .withWaitStrategy(Wait.forLogMessage(/listening/))
    .start();
});

afterAll(async () => {
  await container?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('tenant runtime image', () => {
  it('refuses a call with no assertion', async () => {
    const response = await post(listBody);
    expect(response.status).toBe(401);
    expect(response.text).toContain('missing call assertion');
  });

  it("refuses an assertion signed by any key but the router's", async () => {
    const response = await post(listBody, await assertion({ key: attacker.privateKey, body: listBody }));
    expect(response.status).toBe(401);
  });

  it('refuses an assertion made for another tenant', async () => {
    expect((await post(listBody, await assertion({ tenant: 'someone-else', body: listBody }))).status).toBe(
      401,
    );
  });

  it('refuses an assertion replayed onto a different body', async () => {
    const other = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    expect((await post(listBody, await assertion({ body: other }))).status).toBe(401);
  });

  it('answers a body that is not JSON with a JSON-RPC parse error once its assertion checks out', async () => {
    // The runtime parses the body once and hands the MCP handler the result; bytes that do not parse
    // go to the handler as they came, which answers them itself.
    const body = '{"jsonrpc": "2.0", "method": ';
    const { status, text } = await post(body, await assertion({ body }));
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
  });

  it('refuses an expired assertion', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stale = await assertion({ body: listBody, iat: now - 120, exp: now - 60 });
    expect((await post(listBody, stale)).status).toBe(401);
  });

  it('serves the records tools to the router and counts every refusal', async () => {
    const dispatcher = new TenantDispatcher({
      runtimes: { ensure: () => Promise.resolve({ kind: 'unix', socketPath, uid: UID }) },
      sign: await createCallSigner(router.privateKey),
      logger: pino({ level: 'silent' }),
    });
    const created = await dispatcher.callTool(context, 'records_create', {
      title: 'first',
      body: 'b',
      tags: [],
      idempotency_key: 'runtime-image-first',
    });
    expect(created.isError).toBeFalsy();
    const record = (created.structuredContent as { record: { id: string; createdBy: string } }).record;
    expect(record.createdBy).toBe('alice');
    const fetched = await dispatcher.callTool(context, 'records_get', { id: record.id });
    expect((fetched.structuredContent as { record: { title: string } }).record.title).toBe('first');
    await dispatcher.close();
    const health = JSON.parse(await get('/healthz')) as Record<string, unknown>;
    expect(health).toEqual({ ok: true, mcp: 200, refused: 5, calls: 2, invalid_calls: 0 });
  });

  it("moves a records database left at the volume's root into the records pack's directory, with its WAL", async () => {
    const dispatcher = new TenantDispatcher({
      runtimes: { ensure: () => Promise.resolve({ kind: 'unix', socketPath, uid: UID }) },
      sign: await createCallSigner(router.privateKey),
      logger: pino({ level: 'silent' }),
    });
    const fetched = await dispatcher.callTool(context, 'records_get', { id: legacyId });
    await dispatcher.close();
    expect(fetched.structuredContent).toMatchObject({
      record: { id: legacyId, title: 'from before the pack', createdBy: 'bob' },
    });
    const data = await readdir(join(dir, 'data'));
    expect(data.filter((file) => file.startsWith('records.db'))).toEqual([]);
    expect(await readdir(join(dir, 'data', 'packs', 'records'))).toContain('records.db');
  });

  it('starts from the V8 code cache its build recorded, and says so when a cache does not fit', async () => {
    // Recorded at build time (runtime-image/Dockerfile), root-owned and read-only; the training gone.
    const cache = await container.exec(['stat', '-c', '%u %a %s', '/app/runtime.cjs.cache']);
    const [owner, mode, size] = cache.output.trim().split(' ');
    expect([owner, mode]).toEqual(['0', '444']);
    expect(Number(size)).toBeGreaterThan(100_000);
    expect((await container.exec(['ls', '/app'])).output.split(/\s+/)).not.toContain('train-code-cache.mjs');
    // The records pack's own, recorded by its own training; the pack logs a rejected cache on its
    // stderr, which the runtime's log carries (checked below).
    const packCache = await container.exec([
      'stat',
      '-c',
      '%u %a %s',
      '/opt/bulkhead/packs/records/runtime.cjs.cache',
    ]);
    const [packOwner, packMode, packSize] = packCache.output.trim().split(' ');
    expect([packOwner, packMode]).toEqual(['0', '444']);
    expect(Number(packSize)).toBeGreaterThan(100_000);
    // V8 accepted it for this container's start: the entry logs a rejected cache.
    const logs = await new Docker().getContainer(container.getId()).logs({ stdout: true, stderr: true });
    expect(logs.toString()).toContain('listening');
    expect(logs.toString()).not.toContain('code cache rejected');
    // The same entry with a cache made for nothing: compiled as usual, and reported.
    const copy = await container.exec([
      'sh',
      '-c',
      'cp /app/server.mjs /app/runtime.cjs /tmp/ && head -c 4096 /dev/urandom > /tmp/runtime.cjs.cache && ' +
        'node /tmp/server.mjs --help',
    ]);
    expect(copy.exitCode).toBe(0);
    expect(copy.output).toContain('code cache rejected');
    expect(copy.output).toContain('node /app/server.mjs');
  });

  // Last: it stops the container.
  it('drains on SIGTERM without cutting an idle keep-alive connection: its next request is answered, as its last', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const healthz = (): Promise<{ status: number; connection?: string; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = request({ socketPath, path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              connection: res.headers.connection,
              reused: req.reusedSocket,
            }),
          );
        });
        req.on('error', reject).end();
      });
    expect(await healthz()).toMatchObject({ status: 200, connection: 'keep-alive' });
    // The signal, then the runtime's own word that it is draining: the connection is idle meanwhile.
    const logs = await container.logs();
    const draining = new Promise<void>((resolve) =>
      logs.on('data', (line: Buffer | string) => {
        if (line.toString().includes('shutting down')) resolve();
      }),
    );
    await new Docker().getContainer(container.getId()).kill({ signal: 'SIGTERM' });
    await draining;
    logs.destroy();
    // The same connection still serves, and says it is the last answer on it.
    expect(await healthz()).toEqual({ status: 200, connection: 'close', reused: true });
    agent.destroy();
  });
});
