// The runtime image's entry starts the reference pack before loading the runtime
// (runtime-image/src/packs/reference-prestart.ts): the runtime adopts that process, and a start that
// the runtime refuses (a manifest that does not state the router's records tools) still ends the
// runtime as before, with the early pack process gone before it.
import { generateKeyPairSync } from 'node:crypto';
import { rm } from 'node:fs/promises';
import Docker from 'dockerode';
import { Wait, type GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardenedRuntime, runtimeDirs } from '../support/runtime-container.ts';

const UID = 100_302;
const routerKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
const environment = { BULKHEAD_TENANT_ID: 'prestart', BULKHEAD_ROUTER_PUBLIC_KEY: routerKey };
const docker = new Docker();

let dir: string;
let container: StartedTestContainer | undefined;

const runtime = (): GenericContainer =>
  hardenedRuntime({ uid: UID, dir, namespace: 'test-reference-prestart', environment });

beforeAll(async () => {
  dir = await runtimeDirs('bulkhead-prestart-', UID);
});

afterAll(async () => {
  await container?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the reference pack started by the image entry', () => {
  it('is the process the runtime serves the records tools from', async () => {
    container = await runtime()
      .withWaitStrategy(Wait.forLogMessage(/listening/))
      .start();
    const logs = (
      await docker.getContainer(container.getId()).logs({ stdout: true, stderr: true })
    ).toString();
    const started = logs.split('\n').find((line) => line.includes('"msg":"pack started"'));
    expect(started).toContain('"pack":"records"');
    expect(started).toContain('"tools":6');
    expect(started).toContain('"early":true');
    expect(logs).not.toContain('not adopted');
    await container.stop();
    container = undefined;
  });

  it('still ends the runtime when the manifest is refused, and goes before it', async () => {
    // The image's manifest with one write's blast radius changed: the early start reads only its
    // name and command, the runtime refuses it. After the runtime has exited, no pack process is
    // left (the runtime kills it on exit; the pack also ends when its stdin closes): the runtime runs
    // as a child here (not PID 1), so the namespace's end does not hide one.
    const script = [
      'mkdir /tmp/refused',
      'sed "s/Adds one record/Adds anything/" /opt/bulkhead/packs/records/bulkhead-pack.json > /tmp/refused/bulkhead-pack.json',
      'BULKHEAD_RECORDS_PACK_DIR=/tmp/refused node /app/server.mjs; code=$?',
      'sleep 0.3',
      // Every process's argv: node or python3 at its start is a pack (or its launcher); sh and grep are not.
      'left=$(for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep -a -c -E "^(node|python3) ")',
      'echo "pack processes left: $left, runtime exit $code"',
    ].join('; ');
    const refused = await runtime()
      .withEntrypoint(['sh', '-c', script])
      .withWaitStrategy(Wait.forLogMessage(/runtime exit/))
      .start();
    const logs = (await docker.getContainer(refused.getId()).logs({ stdout: true, stderr: true })).toString();
    await refused.stop();
    expect(logs).toContain("does not state the router's records tools");
    expect(logs).not.toContain('"msg":"pack started"');
    expect(logs).toContain('pack processes left: 0, runtime exit 1');
  });
});
