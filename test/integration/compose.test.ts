// The trust boundaries that docker-compose.yml encodes, read from what docker-compose itself makes of
// the file (`docker-compose config`: interpolated, merged, normalised), not from the YAML text. The
// checks are also run against weakened copies of that configuration, so each one is known to fail.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

import { describe, expect, it } from 'vitest';
import { composeSync, ROOT } from '../support/compose.ts';

const ISSUER = 'https://idp.example.test/';
const RUN_DIR = '/var/lib/bulkhead/run';
const DOCKER_SOCKET = '/var/run/docker.sock';

type VolumeEntry = string | { type?: string; source?: string; target?: string; read_only?: boolean };

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  user?: string;
  environment?: Record<string, string | null>;
  volumes?: VolumeEntry[];
  secrets?: (string | { source: string })[];
  ports?: unknown[];
  networks?: Record<string, unknown>;
  profiles?: string[];
  depends_on?: Record<string, unknown>;
  healthcheck?: { test?: string[] | string };
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  tmpfs?: string[] | string;
  privileged?: boolean;
  network_mode?: string;
  pid?: string;
}

interface ComposeConfig {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

/** docker-compose with no BULKHEAD_* or COMPOSE_* from the caller: the file's defaults. */
function compose(args: string[], extraEnv: Record<string, string> = { BULKHEAD_ISSUER: ISSUER }): string {
  return composeSync(args, extraEnv);
}

/** docker-compose 1.29 prints YAML only; PyYAML is there wherever it is (python3-yaml is its dependency). */
function loadConfig(profileArgs: string[] = []): ComposeConfig {
  const yaml = compose([...profileArgs, 'config']);
  const json = execFileSync(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: yaml, encoding: 'utf8' },
  );
  return JSON.parse(json) as ComposeConfig;
}

function service(config: ComposeConfig, name: string): Service {
  const found = config.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Volumes as { source, target, readOnly }, from either syntax. */
function mounts(svc: Service): { source: string; target: string; readOnly: boolean }[] {
  return (svc.volumes ?? []).map((entry) => {
    if (typeof entry !== 'string') {
      return { source: entry.source ?? '', target: entry.target ?? '', readOnly: entry.read_only === true };
    }
    const [source = '', target = '', mode = ''] = entry.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function secretNames(svc: Service): string[] {
  return (svc.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
}

function holdsDockerAccess(svc: Service): boolean {
  const socket = mounts(svc).some(
    (m) => m.source.endsWith('docker.sock') || m.target.endsWith('docker.sock'),
  );
  return socket || svc.environment?.DOCKER_HOST != null || svc.privileged === true;
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
  for (const svc of Object.values(config.services)) {
    expect(svc.network_mode).toBeUndefined();
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
  expect(redis.ports ?? []).toEqual([]);
  expect(redis.read_only).toBe(true);
  expect(redis.cap_drop).toEqual(['ALL']);
  const data = mounts(redis).find((m) => m.target === '/data');
  expect(Object.keys(config.volumes ?? {})).toContain(data?.source);
  expect([redis.healthcheck?.test ?? []].flat().join(' ')).toContain('redis-cli ping');
  const networks = Object.keys(redis.networks ?? {});
  expect(networks.length).toBeGreaterThan(0);
  for (const network of networks) expect(config.networks?.[network]?.internal).toBe(true);
  for (const name of ['supervisor', 'router']) {
    expect(service(config, name).depends_on?.redis).toEqual({ condition: 'service_healthy' });
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

/** The CLI: non-root, read-only, Redis's network only, no Docker and none of the router's keys. */
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
  expect(Object.keys(cli.networks ?? {})).toEqual(Object.keys(service(config, 'redis').networks ?? {}));
  expect(mounts(cli).map((m) => m.target)).toEqual([cli.environment?.BULKHEAD_DEV_DIR]);
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
  'redis is append-only, on a volume, healthy-gated, internal only': expectRedisDurableAndInternal,
  'the dev IdP exists only under the dev profile, the CLI only under its own': expectDevIdpOnlyInDevProfile,
  'every image is built on this host, none pulled': expectImagesBuiltLocally,
  'development code runs only in the dev profile, from its own image': expectDevImageOnlyInDevProfile,
  'the CLI runs non-root and read-only, next to Redis only, without Docker or keys': expectCliConfined,
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
      (c) => (service(c, 'cli').networks = { backend: null, edge: null }),
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
