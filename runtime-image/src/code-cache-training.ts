// Run once by the image build (runtime-image/Dockerfile), never in a tenant's container: starts the
// runtime as a container would (runtime-image/src/code-cache-entry.ts with BULKHEAD_CODE_CACHE=write),
// on a throw-away socket, data directory and router key, and drives what a cold start runs before
// its first answer: the health probe, a refused call, the tool list, a write and a read. The
// runtime records its V8 code cache when it exits (SIGTERM, its own drain). Any unexpected answer
// fails the build: an image whose cache was trained on an error path would start slower, silently.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import {
  CALL_ASSERTION_ALG,
  CALL_ASSERTION_HEADER,
  CALL_ASSERTION_ISSUER,
  bodyDigest,
  callAssertionAudience,
} from '../../kernel/wire/call-assertion.ts';

const ENTRY = process.argv[2] ?? '/app/server.mjs';
const TENANT = 'code-cache-training';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fail = (message: string): never => {
  throw new BulkheadError('runtime_failed', `code cache training: ${message}`);
};

const dir = mkdtempSync(join(tmpdir(), 'code-cache-'));
const socketPath = join(dir, 'mcp.sock');
const keys = generateKeyPairSync('ed25519');
const child = spawn(process.execPath, [ENTRY], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    BULKHEAD_CODE_CACHE: 'write',
    BULKHEAD_TENANT_ID: TENANT,
    BULKHEAD_ROUTER_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    BULKHEAD_SOCKET_PATH: socketPath,
    BULKHEAD_EGRESS_SOCKET_PATH: join(dir, 'egress.sock'),
    BULKHEAD_DATA_DIR: join(dir, 'data'),
    BULKHEAD_PACKS_DIR: join(dir, 'no-packs'),
    BULKHEAD_PACK_SECRETS_FILE: join(dir, 'secrets.json'),
    // The records pack is confined where the build's kernel offers Landlock; a build is no tenant.
    BULKHEAD_PACK_CONFINEMENT: 'sandbox',
  },
});
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

function call(path: string, body?: object, signed = true): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return (async () => {
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      const { method, params } = body as { method: string; params: { name?: string } };
      Object.assign(headers, {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(params.name ? { 'mcp-name': params.name } : {}),
      });
      if (signed) headers[CALL_ASSERTION_HEADER] = await sign(payload);
    }
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath, path, method: payload === undefined ? 'GET' : 'POST', headers },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  })();
}

function sign(body: string): Promise<string> {
  const context = {
    tenant: TENANT,
    user: null,
    agent: 'training',
    scopes: ['records:write', 'records:read'],
  };
  return new SignJWT({ ...context, bh: bodyDigest(body) })
    .setProtectedHeader({ alg: CALL_ASSERTION_ALG, typ: 'bulkhead-call+jwt' })
    .setIssuer(CALL_ASSERTION_ISSUER)
    .setAudience(callAssertionAudience(TENANT))
    .setIssuedAt()
    .setExpirationTime('30s')
    .setJti(randomUUID())
    .sign(keys.privateKey);
}

// The per-request envelope of the stateless protocol revision the router speaks.
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'code-cache-training', version: '1' },
};
const rpc = (id: number, method: string, params: object): object => ({
  jsonrpc: '2.0',
  id,
  method,
  params: { ...params, _meta: META },
});

try {
  for (let i = 0; !existsSync(socketPath); i++) {
    if (i > 3_000) fail('the runtime never listened');
    await sleep(10);
  }
  for (let i = 0; i < 3; i++)
    if ((await call('/healthz')).status !== 200) fail('/healthz did not answer 200');
  if ((await call('/mcp', rpc(1, 'tools/list', {}), false)).status !== 401)
    fail('an unsigned call was not refused with 401');
  const create = rpc(2, 'tools/call', {
    name: 'records_create',
    arguments: { title: 'training', idempotency_key: 'training-1' },
  });
  for (const body of [
    rpc(3, 'tools/list', {}),
    create,
    create, // the replay of a known idempotency key
    rpc(4, 'tools/call', { name: 'records_list', arguments: { limit: 5 } }),
  ]) {
    const answer = await call('/mcp', body);
    if (answer.status !== 200 || !answer.text.includes('"result"') || answer.text.includes('"isError":true'))
      fail(`${JSON.stringify(body).slice(0, 80)} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
  child.kill('SIGTERM');
  if ((await exited) !== 0) fail('the runtime did not exit cleanly');
  const cache = ENTRY.replace(/server\.mjs$/, 'runtime.cjs.cache');
  console.log(`code cache: ${cache}, ${Math.round(statSync(cache).size / 1024)} KiB`);
} finally {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
