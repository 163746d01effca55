import { diskCheck } from '../../supervisor/verify/container-checks.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
// The in-container probe of `verify` is told no tenant's name: the tenant's own processes share its
// UID and PID namespace and can read its environment and command line. What the engine is asked to
// run is read at a Docker engine of our own; the verdict on what the probe saw is the host's, and
// fails whenever another tenant's volume or socket directory is seen, read, or cannot be ruled out.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { IsolationVerifier } from '../../supervisor/verify/isolation-verifier.ts';
import { DOCKER_VOLUMES_ROOT, type ProbedRoot } from '../../supervisor/verify/other-tenants.ts';
import { probeChecks, type ProbeObservation } from '../../supervisor/verify/probe-checks.ts';
import { PROBE_MAX_MOUNTINFO_CHARS, PROBE_MAX_ROOT_ENTRIES } from '../../supervisor/verify/probe-script.ts';
import { hardenedProbe } from '../support/probe-observation.ts';
import { tenantRecord } from '../support/tenant.ts';

const RUN_DIR = '/nonexistent/bulkhead-probe-test/run';
const tenant = tenantRecord('acme', { uid: 100_007 });
const OTHER_IDS = ['globex-secret', 'initech-suspended'];

const bodyOf = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

/** An engine that shows acme's container running and records each exec it is asked to create. */
function fakeEngine(execs: unknown[]): Server {
  return createServer((req, res) => {
    void bodyOf(req).then((body) => {
      const url = req.url ?? '';
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'GET' && /\/containers\/[^/]+\/json/.test(url))
        return reply(200, {
          Id: 'c0ffee',
          State: { Running: true, Status: 'running', Pid: 0 },
          Config: { Labels: {} },
          HostConfig: { Runtime: 'runc' },
          NetworkSettings: { Networks: {} },
          Mounts: [],
        });
      if (req.method === 'POST' && /\/containers\/[^/]+\/exec$/.test(url)) {
        execs.push(JSON.parse(body));
        return reply(201, { Id: 'e1' });
      }
      // The probe itself is not run: what it was given is the point here.
      return reply(500, { message: 'refused by the test engine' });
    });
  });
}

describe("the probe's exec", () => {
  const execs: unknown[] = [];
  const server = fakeEngine(execs);
  let docker: Docker;
  let driver: DockerDriver;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    docker = new Docker({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    driver = new DockerDriver({
      toolImage: RUNTIME_IMAGE,
      namespace: 'prod',
      runDir: RUN_DIR,
      routerGid: 0,
      logger: pino({ level: 'silent' }),
      docker,
    });
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('names no other tenant, suspended ones included: only the roots their places are under', async () => {
    const verifier = new IsolationVerifier({
      docker,
      driver: {
        placement: (id, generation) => driver.placement(id, generation),
        pausedBy: () => Promise.resolve(undefined),
        disk: () => Promise.resolve({ volume: true, device: '/dev/loop9', holdsImage: true, ready: true }),
      },
    });
    const report = await verifier.verify(tenant, OTHER_IDS);
    // It got as far as the exec, which this engine then refused.
    expect(report.checks.find((c) => c.id === 'probe.run')?.why).toContain('refused by the test engine');
    expect(execs).toHaveLength(1);
    const given = JSON.stringify(execs[0]);
    for (const id of OTHER_IDS) {
      const place = driver.placement(id, 0);
      for (const name of [id, place.volumeName, place.socketDir]) expect(given).not.toContain(name);
    }
    expect((execs[0] as { Env: string[] }).Env).toEqual([
      `PROBE_ROOTS=${JSON.stringify([DOCKER_VOLUMES_ROOT, `${RUN_DIR}/prod`])}`,
    ]);
  });
});

describe("the host's verdict on what the probe saw of other tenants", () => {
  const own = { volume: 'bulkhead-prod-acme-data', socketDir: `${RUN_DIR}/prod/acme` };
  const others = [
    { volume: 'bulkhead-prod-globex-data', socketDir: `${RUN_DIR}/prod/globex` },
    { volume: 'bulkhead-prod-initech-data', socketDir: `${RUN_DIR}/prod/initech` },
  ];
  // The two mounts of a hardened container as runc's mountinfo shows them (root fs on sda1).
  const mountinfo = [
    `612 590 8:1 /var/lib/docker/volumes/${own.volume}/_data /data rw,relatime - ext4 /dev/sda1 rw`,
    `613 590 8:1 ${own.socketDir} /run/mcp rw,relatime - ext4 /dev/sda1 rw`,
  ].join('\n');
  const absent: ProbedRoot[] = [
    { root: DOCKER_VOLUMES_ROOT, absent: 'ENOENT' },
    { root: `${RUN_DIR}/prod`, absent: 'ENOENT' },
  ];
  const seen = hardenedProbe(tenant.uid, { mountinfo, roots: absent });
  const verdict = (changed: Partial<ProbeObservation>) =>
    probeChecks({ ...seen, ...changed }, tenant, { others }).find((c) => c.id === 'probe.other-tenants')!;

  it('passes with only its own places mounted and neither root there', () => {
    expect(verdict({})).toMatchObject({ pass: true });
  });

  it("fails when another tenant's volume or socket directory is in its mount table", () => {
    const volume = `${mountinfo}\n700 590 8:1 /var/lib/docker/volumes/${others[0]!.volume}/_data /mnt/o ro - ext4 /dev/sda1 rw`;
    expect(verdict({ mountinfo: volume })).toMatchObject({
      pass: false,
      why: expect.stringContaining(others[0]!.volume),
    });
    const socket = `${mountinfo}\n701 590 8:1 ${others[1]!.socketDir} /mnt/s rw - ext4 /dev/sda1 rw`;
    expect(verdict({ mountinfo: socket })).toMatchObject({
      pass: false,
      why: expect.stringContaining(others[1]!.socketDir),
    });
  });

  it("fails when another tenant's disk is in its mount table, which names its device, not its volume", () => {
    const onDisks = [
      { ...others[0]!, device: '/dev/loop4' },
      { ...others[1]!, device: '/dev/loop1' },
    ];
    const mounted = `${mountinfo}\n702 590 7:4 / /mnt/d rw,relatime - ext4 /dev/loop4 rw`;
    const checked = (m: string) =>
      probeChecks({ ...seen, mountinfo: m }, tenant, { others: onDisks }).find(
        (c) => c.id === 'probe.other-tenants',
      )!;
    expect(checked(mounted)).toMatchObject({ pass: false, why: expect.stringContaining(others[0]!.volume) });
    // Its own disk on /dev/loop14 is not another's on /dev/loop1.
    expect(checked(`${mountinfo}\n703 590 7:14 / /data2 rw - ext4 /dev/loop14 rw`)).toMatchObject({
      pass: true,
    });
  });

  it("fails when a root lists another tenant's entry, and names what it could read", () => {
    const listed = verdict({
      roots: [
        absent[0]!,
        {
          root: `${RUN_DIR}/prod`,
          entries: ['acme', 'globex', 'initech'],
          truncated: false,
          readable: ['acme'],
        },
      ],
    });
    expect(listed.pass).toBe(false);
    expect(listed.why).toContain(others[0]!.socketDir);
    expect(listed.why).toContain('readable: []');
    const read = verdict({
      roots: [
        {
          root: DOCKER_VOLUMES_ROOT,
          entries: [others[1]!.volume],
          truncated: false,
          readable: [`${others[1]!.volume}/_data`],
        },
        absent[1]!,
      ],
    });
    expect(read.pass).toBe(false);
    expect(read.why).toContain(`readable: ["${DOCKER_VOLUMES_ROOT}/${others[1]!.volume}/_data"]`);
  });

  it("passes a mount table naming its own places, whose names begin with another tenant's", () => {
    const tenant2 = tenantRecord('globex-2', { uid: 100_007 });
    const own2 = { volume: 'bulkhead-prod-globex-2-data', socketDir: `${others[0]!.socketDir}-2` };
    const table = [
      `612 590 8:1 /var/lib/docker/volumes/${own2.volume}/_data /data rw - ext4 /dev/sda1 rw`,
      `613 590 8:1 ${own2.socketDir} /run/mcp rw - ext4 /dev/sda1 rw`,
    ].join('\n');
    const check = probeChecks({ ...seen, mountinfo: table }, tenant2, { others: [others[0]!] });
    expect(check.find((c) => c.id === 'probe.other-tenants')).toMatchObject({ pass: true });
  });

  it('passes a listing of its own entry alone', () => {
    const roots = [
      absent[0]!,
      { root: `${RUN_DIR}/prod`, entries: ['acme'], truncated: false, readable: ['acme'] },
    ];
    expect(verdict({ roots })).toMatchObject({ pass: true });
  });

  it('fails when it cannot rule another tenant out: a root there but not listable, or a cut-short view', () => {
    const unlisted = verdict({ roots: [absent[0]!, { root: `${RUN_DIR}/prod`, unlisted: 'EACCES' }] });
    expect(unlisted).toMatchObject({
      pass: false,
      why: expect.stringContaining('cannot be listed (EACCES)'),
    });
    const many = Array.from({ length: PROBE_MAX_ROOT_ENTRIES }, (_, i) => `a${String(i).padStart(3, '0')}`);
    const truncated = verdict({
      roots: [{ root: DOCKER_VOLUMES_ROOT, entries: many, truncated: true, readable: [] }, absent[1]!],
    });
    expect(truncated).toMatchObject({
      pass: false,
      why: expect.stringContaining(`more than ${PROBE_MAX_ROOT_ENTRIES} entries`),
    });
    const long = verdict({ mountinfoTruncated: true });
    expect(long).toMatchObject({
      pass: false,
      why: expect.stringContaining(`longer than ${PROBE_MAX_MOUNTINFO_CHARS}`),
    });
  });
});

describe("the verdict on the tenant's disk", () => {
  const probed = (dataBytes: number | null) =>
    probeChecks(hardenedProbe(tenant.uid, { dataBytes }), tenant).find((c) => c.id === 'probe.disk')!;
  const placement = {
    namespace: 'prod',
    socketDir: '/s',
    volumeName: 'bulkhead-prod-acme-data',
    containerName: 'c',
    generation: 0,
  };

  it("passes when its data directory's filesystem is within the plan's disk, from inside", () => {
    expect(probed(250 * 1024 * 1024)).toMatchObject({ pass: true });
    expect(probed(300 * 1024 * 1024)).toMatchObject({ pass: false });
    // The host's filesystem, say, or one it could not size: not evidence of a bound.
    expect(probed(null)).toMatchObject({ pass: false });
  });

  it('passes when the data volume names a device holding its image, from the host', () => {
    expect(
      diskCheck({ volume: true, device: '/dev/loop3', holdsImage: true }, tenant, placement),
    ).toMatchObject({
      id: 'disk.bounded',
      pass: true,
    });
    expect(
      diskCheck({ volume: true, device: '/dev/loop3', holdsImage: false }, tenant, placement),
    ).toMatchObject({
      pass: false,
      why: "bulkhead-prod-acme-data names /dev/loop3, which does not hold the tenant's image",
    });
    expect(diskCheck({ volume: true, holdsImage: false }, tenant, placement)).toMatchObject({
      pass: false,
      why: expect.stringContaining('unbounded'),
    });
  });
});

describe("the host's verdict on the probe's own user and its neighbours", () => {
  const verdict = (id: string, changed: Partial<ProbeObservation>) =>
    probeChecks(hardenedProbe(tenant.uid, changed), tenant).find((c) => c.id === id)!;

  it('passes when it is in its own group alone and sees only processes of its UID', () => {
    expect(verdict('probe.tenant-uid', {})).toMatchObject({ pass: true });
    expect(verdict('probe.own-processes', {})).toMatchObject({ pass: true });
  });

  it('fails when a group was added to it (root, or another tenant UID)', () => {
    expect(verdict('probe.tenant-uid', { groups: [tenant.uid, 0] })).toMatchObject({
      pass: false,
      why: `uid ${tenant.uid}, gid ${tenant.uid}, groups [${tenant.uid},0], expected ${tenant.uid} alone`,
    });
  });

  it("fails when it sees another UID's process: a PID namespace shared with another container", () => {
    expect(verdict('probe.own-processes', { processUids: [tenant.uid, 100_008] })).toMatchObject({
      pass: false,
      why: expect.stringContaining('[100007,100008]'),
    });
    // A probe that saw no process at all (not even itself) measured nothing.
    expect(verdict('probe.own-processes', { processUids: [] })).toMatchObject({ pass: false });
  });
});
