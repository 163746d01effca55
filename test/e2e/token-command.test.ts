// `bulkhead token` as an operator runs it against a running `bulkhead up`: an agent's token through
// client credentials, a user's through the authorization code flow with PKCE on the development
// IdP's login pages. Both are checked by decoding what the IdP issued (never signed here) and by
// calling the router with them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpPost } from '../support/auth-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';

const run = promisify(execFile);
let ns: TestNamespace;
let devDir: string;
let up: ChildProcess | undefined;
let mcpUrl: string;
let env: NodeJS.ProcessEnv;

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['dev/cli/main.ts', ...args], { env, timeout: 30_000 });
  return stdout.trim();
}

beforeAll(async () => {
  ns = await testNamespace('token');
  devDir = await mkdtemp(join(tmpdir(), 'bulkhead-token-'));
  // Every port its own: other tests run `up` at the same time (the console's default is fixed).
  const [port, idpPort, consolePort] = [await freePort(), await freePort(), await freePort()];
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  env = {
    ...process.env,
    BULKHEAD_NAMESPACE: ns.namespace,
    BULKHEAD_DEV_DIR: devDir,
    BULKHEAD_RUN_DIR: ns.runDir,
  };
  const child = spawn(
    process.execPath,
    [
      'dev/cli/main.ts',
      'up',
      '--port',
      String(port),
      '--idp-port',
      String(idpPort),
      '--console-port',
      String(consolePort),
      '--users',
      'alice=editor,vic=viewer',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  up = child;
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bulkhead up did not get ready:\n${output}`)), 90_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('press Ctrl-C to stop')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bulkhead up exited with ${code}:\n${output}`));
    });
  });
}, 120_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    const exited = new Promise((resolve) => up!.once('exit', resolve));
    up.kill('SIGINT');
    await exited;
  }
  await ns?.cleanup();
  if (devDir) await rm(devDir, { recursive: true, force: true });
});

describe('bulkhead token', () => {
  it("mints a user's token through the authorization code flow, with the user's tenant and roles", async () => {
    const token = await cli('token', '--user', 'alice', '--scope', 'records:read records:write');
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'alice', tenant: 'demo', roles: ['editor'], aud: mcpUrl });
    expect(claims['client_id']).not.toBe('alice');
    // The editor may create; the call runs as alice in the demo tenant's container.
    const created = await mcpPost(mcpUrl, token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'records_create',
        arguments: { title: 'from the CLI', idempotency_key: 'token-cli-1' },
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).toContain('"createdBy":"alice"');
  });

  it("keeps a viewer to the viewer's tools, and an agent's token to what the demo opened to agents", async () => {
    const viewer = await cli('token', '--user', 'vic');
    expect(decodeJwt(viewer)).toMatchObject({ sub: 'vic', roles: ['viewer'] });
    const listed = await mcpPost(mcpUrl, viewer);
    expect(listed.body).toContain('records_list');
    expect(listed.body).not.toContain('records_create');

    const agent = await cli('token', '--tenant', 'demo');
    const claims = decodeJwt(agent);
    expect(claims.sub).toBe(claims['client_id']);
    // Without --scope: every scope the router advertises in its protected resource metadata.
    const metadata = await fetch(`${new URL(mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`);
    const { scopes_supported: advertised } = (await metadata.json()) as { scopes_supported: string[] };
    expect(claims['scope']).toBe(advertised.join(' '));
    const agentTools = await mcpPost(mcpUrl, agent);
    expect(agentTools.body).toContain('records_create');
    expect(agentTools.body).not.toContain('records_delete');
  });

  it('refuses a user the development IdP does not know, naming the known ones', async () => {
    await expect(cli('token', '--user', 'mallory')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no user "mallory"; known: alice (demo: editor); vic (demo: viewer)'),
    });
  });
});
