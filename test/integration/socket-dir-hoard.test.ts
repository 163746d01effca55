// A tenant that fills its socket directory must not hold a create slot while the supervisor empties
// it. The directory is emptied before every new container (what a previous runtime left must not
// greet its successor), and a tenant may have left a hundred thousand files there: their removal
// takes seconds to minutes (remove-tree.ts, a child `rm`), and while it ran inside the create cap,
// every other tenant's cold start queued behind it. The real engine, the real runtime image, the
// files planted from inside the container as the tenant; the removal is held (SIGSTOP to its `rm`,
// a disk that is slow) while another tenant starts under a create cap of one.
import { readdir, readFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { RUNTIME_IMAGE, execIn, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { tenantRecord } from '../support/tenant.ts';
import { until } from '../support/until.ts';

let ns: TestNamespace;
let driver: DockerDriver;
let manager: RuntimeController;

beforeAll(async () => {
  ns = await testNamespace('hoard');
  const logger = pino({ level: 'silent' });
  const { publicKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger,
  });
  manager = new RuntimeController({
    driver,
    image: RUNTIME_IMAGE,
    routerPublicKey: publicKey,
    logger,
    settings: lifecycleSettings({ createLimit: 1, routeSettleMs: 0, drainSeconds: 0 }),
  });
});

afterAll(async () => {
  await ns.cleanup();
});

/** Node code for `node -e`: 100,000 empty files in argv[1], as the tenant's process could make. */
const HOARD_SCRIPT = `const fs = require('node:fs');
for (let i = 0; i < 100000; i++) fs.writeFileSync(process.argv[1] + '/f' + i, '');
console.log('planted');`;

/** The pid of the `rm` removing `dir`, if one runs now (remove-tree.ts runs it as a child). */
async function removalOf(dir: string): Promise<number | undefined> {
  const wanted = ['rm', '-rf', '--one-file-system', '--', dir].join('\0');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.replace(/\0$/, '') === wanted) return Number(entry);
  }
  return undefined;
}

it("empties a socket directory the tenant filled outside the create cap: another tenant's start goes on", async () => {
  const hoarder = tenantRecord('hoarder', { uid: 100_301 });
  const bystander = tenantRecord('bystander', { uid: 100_302 });
  const first = await manager.ensure(hoarder);
  const before = await manager.inspect('hoarder');
  const planted = await execIn(ns.docker, before!.runtimeId, ['node', '-e', HOARD_SCRIPT, '/run/mcp']);
  expect(planted.output).toContain('planted');
  // A fresh container: the old one removed, the directory emptied, then the create.
  const recycled = manager.recycle(hoarder, 'test');
  let rm: number | undefined;
  await until(
    async () => (rm = await removalOf(driver.placement('hoarder', 0).socketDir)) !== undefined,
    'the rm',
  );
  process.kill(rm!, 'SIGSTOP');
  try {
    // The removal is held: no create slot with it, and the other tenant starts under the cap of one.
    expect(manager.createLimiter.inFlight).toBe(0);
    const other = await manager.ensure(bystander);
    expect(await probeHealth(other)).toBe(true);
  } finally {
    process.kill(rm!, 'SIGCONT');
    await recycled.catch(() => undefined); // settled before the namespace is cleaned up, pass or fail
  }
  expect(await recycled).toBe(true);
  expect((await manager.inspect('hoarder'))?.runtimeId).not.toBe(before!.runtimeId);
  expect(await probeHealth(first)).toBe(true);
  expect(await readdir(driver.placement('hoarder', 0).socketDir)).not.toContain('f0');
}, 120_000);
