// The README's main job, as an operator runs it: `bulkhead up` starts the IdP, the supervisor and
// the router as separate processes, onboards the demo tenant, and (with --smoke) proves the path
// with a real MCP client before stopping everything it started; the demo tenant's audit trail is
// then sealed and verifies offline.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/stack.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

const run = promisify(execFile);
let ns: TestNamespace | undefined;
let devDir: string | undefined;

afterAll(async () => {
  await ns?.cleanup();
  if (devDir) await rm(devDir, { recursive: true, force: true });
});

describe('bulkhead up', () => {
  it('brings the stack up, onboards the demo tenant, serves a write and stops cleanly', async () => {
    ns = await testNamespace('up');
    devDir = await mkdtemp(join(tmpdir(), 'bulkhead-up-'));
    const [port, idpPort, consolePort] = [await freePort(), await freePort(), await freePort()];
    const { stdout } = await run(
      process.execPath,
      [
        'dev/cli/main.ts',
        'up',
        '--smoke',
        '--port',
        String(port),
        '--idp-port',
        String(idpPort),
        '--console-port',
        String(consolePort),
      ],
      {
        env: {
          ...process.env,
          BULKHEAD_NAMESPACE: ns.namespace,
          BULKHEAD_DEV_DIR: devDir,
          BULKHEAD_RUN_DIR: ns.runDir,
        },
        timeout: 90_000,
      },
    );
    expect(stdout).toContain(`MCP endpoint:   http://127.0.0.1:${port}/mcp`);
    expect(stdout).toContain(
      `Console:        http://127.0.0.1:${consolePort}   (sign in as olivia (operator), aldo (auditor))`,
    );
    // A stock client signs itself in: the configuration to paste carries the URL and no secret.
    expect(stdout).toContain(`"url": "http://127.0.0.1:${port}/mcp"`);
    expect(stdout).not.toContain('Authorization');
    expect(stdout).toContain('smoke: records_create -> {"record"');
    // The default demo user signed in through the authorization code flow (bulkhead token --user).
    expect(stdout).toMatch(
      /smoke: whoami as a user -> \{"tenant":"demo","user":"alice",[^\n]*"acting_alone":false/,
    );
    expect(stdout).toContain('smoke test passed');
    const containers = await ns.docker.listContainers({
      all: true,
      filters: { label: [`io.bulkhead.namespace=${ns.namespace}`, 'io.bulkhead.tenant=demo'] },
    });
    expect(containers).toHaveLength(1);
    // The supervisor sealed the demo tenant's trail when it stopped: it verifies and exports offline.
    const audit = (sub: string) =>
      run(process.execPath, ['dev/cli/main.ts', 'audit', sub, 'demo'], {
        env: {
          ...process.env,
          BULKHEAD_NAMESPACE: ns?.namespace,
          BULKHEAD_DEV_DIR: devDir,
          BULKHEAD_AUDIT_DIR: join(devDir!, 'audit'),
          BULKHEAD_AUDIT_PUBLIC_KEY_FILE: join(devDir!, 'keys', 'audit-signing.pub'),
        },
      });
    expect((await audit('verify')).stdout).toMatch(/intact: segments 1-\d+, \d+ entries/);
    const records = (await audit('export')).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { tool: string; status?: string });
    expect(records).toContainEqual(expect.objectContaining({ tool: 'records_create', status: 'ok' }));
  });

  it('refuses a port something already listens on, naming it and the flag, and starts nothing', async () => {
    const [port, idpPort, consolePort] = [await freePort(), await freePort(), await freePort()];
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(consolePort, '127.0.0.1', resolve));
    try {
      const args = ['dev/cli/main.ts', 'up', '--port', String(port), '--idp-port', String(idpPort)];
      const refused = await run(process.execPath, [...args, '--console-port', String(consolePort)], {
        timeout: 30_000,
      }).catch((error: unknown) => error as { code: number; stdout: string; stderr: string });
      expect(refused).toMatchObject({ code: 2 });
      expect((refused as { stderr: string }).stderr).toContain(
        `port ${consolePort} (--console-port) is in use on 127.0.0.1`,
      );
      // Nothing was started: the router's port is still free.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(port, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => probe.close(resolve));
      await expect(run(process.execPath, [...args, '--console-port', 'eighty'])).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('--console-port eighty is not a port'),
      });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('prints usage for --help and refuses an unknown command', async () => {
    const help = await run(process.execPath, ['dev/cli/main.ts', '--help']);
    expect(help.stdout).toContain('Usage: bulkhead <command>');
    for (const command of ['up', 'onboard', 'list', 'offboard', 'token', 'keygen']) {
      const out = await run(process.execPath, ['dev/cli/main.ts', command, '--help']);
      expect(out.stdout).toContain(`Usage: bulkhead ${command}`);
    }
    await expect(run(process.execPath, ['dev/cli/main.ts', 'frobnicate'])).rejects.toMatchObject({
      code: 2,
    });
  });
});
