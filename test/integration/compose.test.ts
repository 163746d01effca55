// The trust boundaries that docker-compose.yml encodes, read from what docker-compose itself makes of
// the file (`docker-compose config`: interpolated, merged, normalised), not from the YAML text. The
// checks are also run against weakened copies of that configuration, so each one is known to fail.
import { resolve } from 'node:path';

import { describe, expect, it } from 'vitest';
import { composeSync, ROOT } from '../support/compose.ts';
import {
  groupsOf,
  holdsDockerAccess,
  loadConfig as loadComposeConfig,
  mounts,
  secretNames,
  service,
  type ComposeConfig,
} from '../support/compose-config.ts';

const ISSUER = 'https://idp.example.test/';
const RUN_DIR = '/var/lib/bulkhead/run';
const DOCKER_SOCKET = '/var/run/docker.sock';
const REDIS_SOCKET_DIR = '/run/redis';
const REDIS_URL = `unix://${REDIS_SOCKET_DIR}/redis.sock`;

/** docker-compose with no BULKHEAD_* or COMPOSE_* from the caller: the file's defaults. */
function compose(args: string[], extraEnv: Record<string, string> = { BULKHEAD_ISSUER: ISSUER }): string {
  return composeSync(args, extraEnv);
}

function loadConfig(profileArgs: string[] = []): ComposeConfig {
  return loadComposeConfig({ BULKHEAD_ISSUER: ISSUER }, profileArgs);
}

// The checks, shared by the real configuration and by its weakened copies.

function expectOnlySupervisorHoldsDocker(config: ComposeConfig): void {
  const holders = Object.entries(config.services).filter(([, svc]) => holdsDockerAccess(svc));
  expect(holders.map(([name]) => name)).toEqual(['supervisor']);
  expect(mounts(service(config, 'supervisor'))).toContainEqual({
    source: DOCKER_SOCKET,
    target: DOCKER_SOCKET,
    readOnly: false,
  });
  // No host network, nor another container's: a service's own networks, or none at all.
  for (const svc of Object.values(config.services)) {
    expect([undefined, 'none']).toContain(svc.network_mode);
    expect(svc.pid).toBeUndefined();
  }
}

function expectRouterHardened(config: ComposeConfig): void {
  const router = service(config, 'router');
  expect(holdsDockerAccess(router)).toBe(false);
  expect(router.read_only).toBe(true);
  expect(router.cap_drop).toEqual(['ALL']);
  expect(router.cap_add ?? []).toEqual([]);
  expect(router.security_opt).toContain('no-new-privileges:true');
  expect([router.tmpfs ?? []].flat().some((t) => t.split(':')[0] === '/tmp')).toBe(true);
  // Non-root, in the group the supervisor lets into tenant socket directories.
  const [uid = '', gid = ''] = (router.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  expect(gid).toBe(service(config, 'supervisor').environment?.BULKHEAD_ROUTER_GID);
}

function expectRunDirSharedAtSamePath(config: ComposeConfig): void {
  const supervisor = service(config, 'supervisor');
  expect(supervisor.environment?.BULKHEAD_RUN_DIR).toBe(RUN_DIR);
  expect(mounts(supervisor)).toContainEqual({ source: RUN_DIR, target: RUN_DIR, readOnly: false });
  expect(mounts(service(config, 'router'))).toContainEqual({
    source: RUN_DIR,
    target: RUN_DIR,
    readOnly: true,
  });
}

function expectKeysSplit(config: ComposeConfig): void {
  expect(config.secrets?.call_assertion_key?.file).toBe(resolve(ROOT, '.bulkhead/keys/call-assertion.key'));
  expect(config.secrets?.call_assertion_pub?.file).toBe(resolve(ROOT, '.bulkhead/keys/call-assertion.pub'));
  const router = service(config, 'router');
  const supervisor = service(config, 'supervisor');
  expect(secretNames(router)).toEqual(['call_assertion_key']);
  expect(router.environment?.BULKHEAD_ROUTER_PRIVATE_KEY_FILE).toBe('/run/secrets/call_assertion_key');
  expect(secretNames(supervisor)).toEqual(['call_assertion_pub', 'egress_gateway_pub']);
  expect(supervisor.environment?.BULKHEAD_ROUTER_PUBLIC_KEY_FILE).toBe('/run/secrets/call_assertion_pub');
  expect(supervisor.environment?.BULKHEAD_EGRESS_PUBLIC_KEY_FILE).toBe('/run/secrets/egress_gateway_pub');
  expect(config.secrets?.egress_gateway_key?.file).toBe(resolve(ROOT, '.bulkhead/keys/egress-gateway.key'));
  for (const [name, svc] of Object.entries(config.services)) {
    if (name !== 'router') expect(secretNames(svc)).not.toContain('call_assertion_key');
    if (name !== 'egress') expect(secretNames(svc)).not.toContain('egress_gateway_key');
  }
}

function expectRedisDurableAndInternal(config: ComposeConfig): void {
  const redis = service(config, 'redis');
  const command = [redis.command ?? []].flat().join(' ');
  expect(command).toMatch(/--appendonly yes(\s|$)/);
  // No network and no TCP listener: its unix socket, mode 0660, is the one way in.
  expect(command).toMatch(/--port 0(\s|$)/);
  expect(command).toContain(`--unixsocket ${REDIS_SOCKET_DIR}/redis.sock`);
  expect(command).toMatch(/--unixsocketperm 660(\s|$)/);
  expect(redis.network_mode).toBe('none');
  expect(redis.networks).toBeUndefined();
  expect(redis.ports ?? []).toEqual([]);
  expect(redis.read_only).toBe(true);
  expect(redis.cap_drop).toEqual(['ALL']);
  const data = mounts(redis).find((m) => m.target === '/data');
  expect(Object.keys(config.volumes ?? {})).toContain(data?.source);
  expect([redis.healthcheck?.test ?? []].flat().join(' ')).toContain(
    `redis-cli -s ${REDIS_SOCKET_DIR}/redis.sock ping`,
  );
  const socketVolume = mounts(redis).find((m) => m.target === REDIS_SOCKET_DIR)?.source ?? '';
  expect(Object.keys(config.volumes ?? {})).toContain(socketVolume);
  // Redis's group owns the socket: exactly the services that talk to Redis are in it, and mount the
  // socket's volume read-only (enough to connect); no other service mounts it.
  const [socketGroup] = groupsOf(redis);
  expect(socketGroup).toMatch(/^[1-9]\d*$/);
  for (const [name, svc] of Object.entries(config.services)) {
    if (name === 'redis') continue;
    const mounted = mounts(svc).filter((m) => m.source === socketVolume);
    if (svc.environment?.BULKHEAD_REDIS_URL === undefined) {
      expect(mounted, `the socket's volume in ${name}`).toEqual([]);
      expect(groupsOf(svc), `groups of ${name}`).not.toContain(socketGroup);
      continue;
    }
    expect(svc.environment.BULKHEAD_REDIS_URL, name).toBe(REDIS_URL);
    expect(mounted, `the socket's volume in ${name}`).toEqual([
      { source: socketVolume, target: REDIS_SOCKET_DIR, readOnly: true },
    ]);
    expect(groupsOf(svc), `groups of ${name}`).toContain(socketGroup);
    expect(svc.depends_on?.redis, name).toEqual({ condition: 'service_healthy' });
  }
  for (const name of ['supervisor', 'router', 'egress', 'cli']) {
    expect(service(config, name).environment?.BULKHEAD_REDIS_URL, name).toBe(REDIS_URL);
  }
}

/** Profiles: the dev IdP only in `dev`, the CLI only in `cli` (never started by `up`). */
const PROFILED: Record<string, string[]> = { 'dev-idp': ['dev'], cli: ['cli'] };

function expectDevIdpOnlyInDevProfile(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.profiles ?? [], `profiles of ${name}`).toEqual(PROFILED[name] ?? []);
    expect(Object.keys(svc.depends_on ?? {})).not.toContain('dev-idp');
  }
}

/** Development code runs from its own image, and only the dev profile's IdP runs it. */
function expectDevImageOnlyInDevProfile(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.image === 'bulkhead/dev-idp:dev', `image of ${name}`).toBe(name === 'dev-idp');
    expect(
      mounts(svc).filter((m) => m.target.startsWith('/app')),
      `mounts into /app of ${name}`,
    ).toEqual([]);
  }
}

/** No registry: every image is one runtime-image/build-compose-images.sh builds, and only it. */
function expectImagesBuiltLocally(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.image, `image of ${name}`).toMatch(/^bulkhead\/(control-plane|dev-idp|redis):dev$/);
    expect(svc.build, `build of ${name}`).toBeUndefined();
  }
  expect(service(config, 'redis').image).toBe('bulkhead/redis:dev');
  expect(service(config, 'supervisor').environment?.BULKHEAD_RUNTIME_IMAGE).toBe('bulkhead/runtime:latest');
}

/** The CLI: non-root, read-only, no network (Redis's socket only), no Docker, none of the router's keys. */
function expectCliConfined(config: ComposeConfig): void {
  const cli = service(config, 'cli');
  const [uid = ''] = (cli.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  expect(uid).not.toBe((service(config, 'router').user ?? '').split(':')[0]);
  expect(cli.read_only).toBe(true);
  expect(cli.cap_drop).toEqual(['ALL']);
  expect(cli.cap_add ?? []).toEqual([]);
  expect(cli.security_opt).toContain('no-new-privileges:true');
  expect(cli.ports ?? []).toEqual([]);
  expect(secretNames(cli)).toEqual([]);
  expect(cli.network_mode).toBe('none');
  expect(cli.networks).toBeUndefined();
  expect(mounts(cli).map((m) => m.target)).toEqual([cli.environment?.BULKHEAD_DEV_DIR, REDIS_SOCKET_DIR]);
}

/**
 * The egress gateway: non-root, read-only, no capabilities, no Docker, no key but its own signing
 * key; tenant sockets read-only.
 */
function expectEgressConfined(config: ComposeConfig): void {
  const egress = service(config, 'egress');
  const [uid = '', gid = ''] = (egress.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  // The router's group: the one that may enter tenant socket directories.
  expect(gid).toBe((service(config, 'router').user ?? '').split(':')[1]);
  expect(egress.read_only).toBe(true);
  expect(egress.cap_drop).toEqual(['ALL']);
  expect(egress.cap_add ?? []).toEqual([]);
  expect(egress.security_opt).toContain('no-new-privileges:true');
  expect(egress.ports ?? []).toEqual([]);
  expect(secretNames(egress)).toEqual(['egress_gateway_key']);
  expect(egress.environment?.BULKHEAD_EGRESS_KEY_FILE).toBe('/run/secrets/egress_gateway_key');
  expect(egress.environment?.BULKHEAD_RUN_DIR).toBe(RUN_DIR);
  expect(mounts(egress)).toContainEqual({ source: RUN_DIR, target: RUN_DIR, readOnly: true });
  expect(mounts(egress).every((m) => m.readOnly)).toBe(true);
  expect(egress.depends_on?.redis).toEqual({ condition: 'service_healthy' });
}

const CHECKS = {
  'only the supervisor holds the Docker socket': expectOnlySupervisorHoldsDocker,
  'the router runs non-root, read-only, without capabilities or new privileges': expectRouterHardened,
  'the run directory has the same path on the host, in the supervisor and in the router':
    expectRunDirSharedAtSamePath,
  'the router alone holds the private call-assertion key, the supervisor the public one': expectKeysSplit,
  'redis is append-only, on a volume, healthy-gated, on its socket alone, no network':
    expectRedisDurableAndInternal,
  'the dev IdP exists only under the dev profile, the CLI only under its own': expectDevIdpOnlyInDevProfile,
  'every image is built on this host, none pulled': expectImagesBuiltLocally,
  'development code runs only in the dev profile, from its own image': expectDevImageOnlyInDevProfile,
  'the CLI runs non-root and read-only, without a network, Docker or keys': expectCliConfined,
  'the egress gateway runs non-root and read-only, without Docker, capabilities or keys but its own':
    expectEgressConfined,
} satisfies Record<string, (config: ComposeConfig) => void>;

describe('docker-compose.yml', () => {
  const config = loadConfig();

  for (const [title, check] of Object.entries(CHECKS)) it(title, () => check(config));

  it('validates with the dev profile too, and lists the dev IdP and the CLI only in theirs', () => {
    const dev = loadConfig(['--profile', 'dev']);
    expect(Object.keys(dev.services).sort()).toEqual([
      'cli',
      'dev-idp',
      'egress',
      'redis',
      'router',
      'supervisor',
    ]);
    for (const check of Object.values(CHECKS)) check(dev);
    expect(compose(['config', '--profiles']).split('\n').filter(Boolean)).toEqual(['cli', 'dev']);
  });

  it('refuses to start a router without an explicit token issuer', () => {
    expect(() => compose(['config', '-q'], {})).toThrow(/BULKHEAD_ISSUER/);
    expect(service(config, 'router').environment?.BULKHEAD_ISSUER).toBe(ISSUER);
  });
});

describe('the checks catch a weakened docker-compose.yml', () => {
  const base = loadConfig();
  const weakened: [string, (c: ComposeConfig) => void, (c: ComposeConfig) => void][] = [
    [
      'docker socket in the router',
      (c) => service(c, 'router').volumes?.push(`${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`),
      expectOnlySupervisorHoldsDocker,
    ],
    [
      'DOCKER_HOST for the router',
      (c) => Object.assign(service(c, 'router').environment ?? {}, { DOCKER_HOST: 'tcp://docker:2375' }),
      expectOnlySupervisorHoldsDocker,
    ],
    ['writable router root', (c) => delete service(c, 'router').read_only, expectRouterHardened],
    ['router keeps capabilities', (c) => delete service(c, 'router').cap_drop, expectRouterHardened],
    ['router may gain privileges', (c) => (service(c, 'router').security_opt = []), expectRouterHardened],
    ['router as root', (c) => (service(c, 'router').user = '0:10001'), expectRouterHardened],
    [
      'run directory at another path in the container',
      (c) =>
        (service(c, 'supervisor').volumes = [
          `${DOCKER_SOCKET}:${DOCKER_SOCKET}`,
          `${RUN_DIR}:/run/bulkhead`,
        ]),
      expectRunDirSharedAtSamePath,
    ],
    [
      'private key in the supervisor',
      (c) => service(c, 'supervisor').secrets?.push('call_assertion_key'),
      expectKeysSplit,
    ],
    [
      'redis without append-only',
      (c) => (service(c, 'redis').command = ['redis-server', '--appendonly', 'no']),
      expectRedisDurableAndInternal,
    ],
    ['redis published', (c) => (service(c, 'redis').ports = ['6379:6379']), expectRedisDurableAndInternal],
    [
      'redis on a network',
      (c) => {
        delete service(c, 'redis').network_mode;
        service(c, 'redis').networks = { edge: null };
      },
      expectRedisDurableAndInternal,
    ],
    [
      'redis listening on TCP too',
      (c) => {
        const redis = service(c, 'redis');
        redis.command = [redis.command ?? []]
          .flat()
          .filter((arg, i, all) => arg !== '--port' && all[i - 1] !== '--port');
      },
      expectRedisDurableAndInternal,
    ],
    [
      "redis's socket open to everyone",
      (c) => {
        const redis = service(c, 'redis');
        redis.command = [redis.command ?? []].flat().map((arg) => (arg === '660' ? '666' : arg));
      },
      expectRedisDurableAndInternal,
    ],
    [
      "redis's socket mounted into the dev IdP",
      (c) => (service(c, 'dev-idp').volumes ??= []).push(`redis-socket:${REDIS_SOCKET_DIR}:ro`),
      expectRedisDurableAndInternal,
    ],
    [
      "redis's socket writable by the router",
      (c) => {
        const router = service(c, 'router');
        router.volumes = (router.volumes ?? []).map((v) =>
          typeof v === 'string' ? v.replace(`:${REDIS_SOCKET_DIR}:ro`, `:${REDIS_SOCKET_DIR}:rw`) : v,
        );
      },
      expectRedisDurableAndInternal,
    ],
    [
      'router on the host network',
      (c) => (service(c, 'router').network_mode = 'host'),
      expectOnlySupervisorHoldsDocker,
    ],
    ['dev IdP always on', (c) => delete service(c, 'dev-idp').profiles, expectDevIdpOnlyInDevProfile],
    ['CLI started by up', (c) => delete service(c, 'cli').profiles, expectDevIdpOnlyInDevProfile],
    [
      'redis from a registry',
      (c) => (service(c, 'redis').image = 'redis:7-bookworm'),
      expectImagesBuiltLocally,
    ],
    [
      'control plane built by docker-compose',
      (c) => (service(c, 'router').build = { context: '.' }),
      expectImagesBuiltLocally,
    ],
    ['redis writable root', (c) => delete service(c, 'redis').read_only, expectRedisDurableAndInternal],
    ['CLI as root', (c) => (service(c, 'cli').user = '0:0'), expectCliConfined],
    [
      'CLI on the edge network',
      (c) => {
        delete service(c, 'cli').network_mode;
        service(c, 'cli').networks = { edge: null };
      },
      expectCliConfined,
    ],
    [
      'CLI with the private key',
      (c) => (service(c, 'cli').secrets = ['call_assertion_key']),
      expectCliConfined,
    ],
  ];

  for (const [title, weaken, check] of weakened) {
    it(title, () => {
      const copy = structuredClone(base);
      weaken(copy);
      expect(() => check(copy)).toThrow();
    });
  }
});
