// The trust boundaries docker-compose.yml encodes, as checks of the configuration docker-compose
// makes of it (test/support/compose-config.ts): test/integration/compose.test.ts runs them against
// the real file and against weakened copies, each of which some check must refuse.
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { auditDir } from '../../kernel/config/common.ts';
import { ROOT } from './compose.ts';
import {
  expectConfined,
  groupsOf,
  holdsDockerAccess,
  mounts,
  secretNames,
  service,
  type ComposeConfig,
} from './compose-config.ts';

export const RUN_DIR = '/var/lib/bulkhead/run';
export const DOCKER_SOCKET = '/var/run/docker.sock';
export const REDIS_SOCKET_DIR = '/run/redis';
export const REDIS_SOCKET = `${REDIS_SOCKET_DIR}/redis.sock`;
const REDIS_URL = `unix://${REDIS_SOCKET}`;

// The checks, shared by the real configuration and by its weakened copies.

export function expectOnlySupervisorHoldsDocker(config: ComposeConfig): void {
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

export function expectRouterHardened(config: ComposeConfig): void {
  const router = service(config, 'router');
  expect(holdsDockerAccess(router)).toBe(false);
  expectConfined(router);
  expect([router.tmpfs ?? []].flat().some((t) => t.split(':')[0] === '/tmp')).toBe(true);
  // Non-root, in the group the supervisor lets into tenant socket directories.
  const [uid = '', gid = ''] = (router.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  expect(gid).toBe(service(config, 'supervisor').environment?.BULKHEAD_ROUTER_GID);
}

export function expectRunDirSharedAtSamePath(config: ComposeConfig): void {
  const supervisor = service(config, 'supervisor');
  expect(supervisor.environment?.BULKHEAD_RUN_DIR).toBe(RUN_DIR);
  expect(mounts(supervisor)).toContainEqual({ source: RUN_DIR, target: RUN_DIR, readOnly: false });
  expect(mounts(service(config, 'router'))).toContainEqual({
    source: RUN_DIR,
    target: RUN_DIR,
    readOnly: true,
  });
}

export function expectKeysSplit(config: ComposeConfig): void {
  expect(config.secrets?.call_assertion_key?.file).toBe(resolve(ROOT, '.bulkhead/keys/call-assertion.key'));
  expect(config.secrets?.call_assertion_pub?.file).toBe(resolve(ROOT, '.bulkhead/keys/call-assertion.pub'));
  const router = service(config, 'router');
  const supervisor = service(config, 'supervisor');
  expect(secretNames(router)).toEqual(['call_assertion_key']);
  expect(router.environment?.BULKHEAD_ROUTER_PRIVATE_KEY_FILE).toBe('/run/secrets/call_assertion_key');
  expect(secretNames(supervisor).sort()).toEqual([
    'audit_signing_key',
    'call_assertion_pub',
    'egress_gateway_pub',
  ]);
  expect(supervisor.environment?.BULKHEAD_ROUTER_PUBLIC_KEY_FILE).toBe('/run/secrets/call_assertion_pub');
  expect(supervisor.environment?.BULKHEAD_EGRESS_PUBLIC_KEY_FILE).toBe('/run/secrets/egress_gateway_pub');
  expect(config.secrets?.egress_gateway_key?.file).toBe(resolve(ROOT, '.bulkhead/keys/egress-gateway.key'));
  expect(config.secrets?.audit_signing_key?.file).toBe(resolve(ROOT, '.bulkhead/keys/audit-signing.key'));
  expect(config.secrets?.audit_signing_pub?.file).toBe(resolve(ROOT, '.bulkhead/keys/audit-signing.pub'));
  for (const [name, svc] of Object.entries(config.services)) {
    if (name !== 'router') expect(secretNames(svc)).not.toContain('call_assertion_key');
    if (name !== 'egress') expect(secretNames(svc)).not.toContain('egress_gateway_key');
    if (name !== 'supervisor') expect(secretNames(svc), name).not.toContain('audit_signing_key');
  }
}

/** Where the operator's tool packs are, in the CLI and the supervisor alike (docs/compose.md). */
export const PACKS_DIR = '/var/lib/bulkhead/packs';

/**
 * Tool packs: the operator's directory, mounted read-only at the same path into the CLI (which
 * validates a pack and names its directory) and the supervisor (which reads it to build the image),
 * and into nothing else.
 */
export function expectPacksReadOnlyInCliAndSupervisor(config: ComposeConfig): void {
  const [source] = mounts(service(config, 'supervisor'))
    .filter((m) => m.target === PACKS_DIR)
    .map((m) => m.source);
  expect(source).toBeDefined();
  for (const [name, svc] of Object.entries(config.services)) {
    const mounted = mounts(svc).filter((m) => m.source === source || m.target === PACKS_DIR);
    const expected = ['supervisor', 'cli'].includes(name)
      ? [{ source, target: PACKS_DIR, readOnly: true }]
      : [];
    expect(mounted, `the packs directory in ${name}`).toEqual(expected);
  }
}

/** Where docker-compose.yml keeps sealed audit segments (the configuration's default directory). */
export const AUDIT_DIR = auditDir.schema.parse(undefined);

/**
 * The audit trail's sealed segments: the supervisor alone signs them (its secret, the private key)
 * and writes them, on a volume of their own; the CLI (and the console of deploy/compose/console.yml)
 * mount that volume read-only, hold the public key and are in the group the supervisor gives read access (never write); nothing
 * else mounts it or is in that group.
 */
export function expectAuditSealedBySupervisorAlone(config: ComposeConfig): void {
  const supervisor = service(config, 'supervisor');
  const cli = service(config, 'cli');
  expect(supervisor.environment?.BULKHEAD_AUDIT_SIGNING_KEY_FILE).toBe('/run/secrets/audit_signing_key');
  expect(supervisor.environment?.BULKHEAD_AUDIT_DIR ?? AUDIT_DIR).toBe(AUDIT_DIR);
  const written = mounts(supervisor).find((m) => m.target === AUDIT_DIR);
  expect(written?.readOnly).toBe(false);
  const volume = written?.source ?? '';
  expect(Object.keys(config.volumes ?? {})).toContain(volume);
  expect(cli.environment?.BULKHEAD_AUDIT_DIR ?? AUDIT_DIR).toBe(AUDIT_DIR);
  expect(cli.environment?.BULKHEAD_AUDIT_PUBLIC_KEY_FILE).toBe('/run/secrets/audit_signing_pub');
  expect(secretNames(cli)).toEqual(['audit_signing_pub']);
  const readers = supervisor.environment?.BULKHEAD_AUDIT_READER_GID ?? '';
  expect(readers).toMatch(/^[1-9]\d*$/);
  for (const [name, svc] of Object.entries(config.services)) {
    const mounted = mounts(svc).filter((m) => m.source === volume);
    if (name === 'supervisor') continue;
    if (name === 'cli' || name === 'console') {
      expect(mounted).toEqual([{ source: volume, target: AUDIT_DIR, readOnly: true }]);
      expect(groupsOf(svc)).toContain(readers);
    } else {
      expect(mounted, `the audit volume in ${name}`).toEqual([]);
      expect(groupsOf(svc), `groups of ${name}`).not.toContain(readers);
    }
  }
}

export function expectRedisDurableOnItsSocket(config: ComposeConfig): void {
  const redis = service(config, 'redis');
  const command = [redis.command ?? []].flat().join(' ');
  expect(command).toMatch(/--appendonly yes(\s|$)/);
  // No network and no TCP listener: its unix socket, mode 0660, is the one way in.
  expect(command).toMatch(/--port 0(\s|$)/);
  expect(command).toContain(`--unixsocket ${REDIS_SOCKET}`);
  expect(command).toMatch(/--unixsocketperm 660(\s|$)/);
  expect(redis.network_mode).toBe('none');
  expect(redis.networks).toBeUndefined();
  expect(redis.ports ?? []).toEqual([]);
  expect(redis.read_only).toBe(true);
  expect(redis.cap_drop).toEqual(['ALL']);
  const data = mounts(redis).find((m) => m.target === '/data');
  expect(Object.keys(config.volumes ?? {})).toContain(data?.source);
  expect([redis.healthcheck?.test ?? []].flat().join(' ')).toContain(`redis-cli -s ${REDIS_SOCKET} ping`);
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

/** Profiles: the dev IdP only in `dev`, Prometheus only in `observability`, the CLI only in `cli` (never started by `up`). */
const PROFILED: Record<string, string[]> = {
  'dev-idp': ['dev'],
  cli: ['cli'],
  prometheus: ['observability'],
};

export function expectDevIdpOnlyInDevProfile(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.profiles ?? [], `profiles of ${name}`).toEqual(PROFILED[name] ?? []);
    expect(Object.keys(svc.depends_on ?? {})).not.toContain('dev-idp');
  }
}

/** Development code runs from its own image, and only the dev profile's IdP runs it. */
export function expectDevImageOnlyInDevProfile(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.image === 'bulkhead/dev-idp:dev', `image of ${name}`).toBe(name === 'dev-idp');
    expect(
      mounts(svc).filter((m) => m.target.startsWith('/app')),
      `mounts into /app of ${name}`,
    ).toEqual([]);
  }
}

/** No registry: every image is one runtime-image/build-compose-images.sh builds, and only it. */
export function expectImagesBuiltLocally(config: ComposeConfig): void {
  for (const [name, svc] of Object.entries(config.services)) {
    expect(svc.image, `image of ${name}`).toMatch(/^bulkhead\/(control-plane|dev-idp|redis|prometheus):dev$/);
    expect(svc.build, `build of ${name}`).toBeUndefined();
  }
  expect(service(config, 'redis').image).toBe('bulkhead/redis:dev');
  expect(service(config, 'supervisor').environment?.BULKHEAD_RUNTIME_IMAGE).toBe('bulkhead/runtime:latest');
}

/** The CLI: non-root, read-only, no network (Redis's socket only), no Docker, none of the router's keys. */
export function expectCliConfined(config: ComposeConfig): void {
  const cli = service(config, 'cli');
  const [uid = ''] = (cli.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  expect(uid).not.toBe((service(config, 'router').user ?? '').split(':')[0]);
  expectConfined(cli);
  expect(cli.ports ?? []).toEqual([]);
  // The audit-signing public key alone (expectAuditSealedBySupervisorAlone).
  expect(secretNames(cli)).toEqual(['audit_signing_pub']);
  expect(cli.network_mode).toBe('none');
  expect(cli.networks).toBeUndefined();
  // As a set: docker-compose orders a service's volumes differently once an override is merged.
  expect(
    mounts(cli)
      .map((m) => m.target)
      .sort(),
  ).toEqual([cli.environment?.BULKHEAD_DEV_DIR, REDIS_SOCKET_DIR, AUDIT_DIR, PACKS_DIR].sort());
}

/**
 * The egress gateway: non-root, read-only, no capabilities, no Docker, no key but its own signing
 * key; tenant sockets read-only.
 */
export function expectEgressConfined(config: ComposeConfig): void {
  const egress = service(config, 'egress');
  const [uid = '', gid = ''] = (egress.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  // The router's group: the one that may enter tenant socket directories.
  expect(gid).toBe((service(config, 'router').user ?? '').split(':')[1]);
  expectConfined(egress);
  expect(egress.ports ?? []).toEqual([]);
  expect(secretNames(egress)).toEqual(['egress_gateway_key']);
  expect(egress.environment?.BULKHEAD_EGRESS_KEY_FILE).toBe('/run/secrets/egress_gateway_key');
  expect(egress.environment?.BULKHEAD_RUN_DIR).toBe(RUN_DIR);
  expect(mounts(egress)).toContainEqual({ source: RUN_DIR, target: RUN_DIR, readOnly: true });
  expect(mounts(egress).every((m) => m.readOnly)).toBe(true);
  expect(egress.depends_on?.redis).toEqual({ condition: 'service_healthy' });
}

/** Services on a network, by its name. */
function membersOf(config: ComposeConfig, network: string): string[] {
  return Object.entries(config.services)
    .filter(([, svc]) => Object.keys(svc.networks ?? {}).includes(network))
    .map(([name]) => name)
    .sort();
}

/**
 * Metrics: the router, the supervisor and the egress gateway each serve /metrics on an internal
 * network that Prometheus alone (and the traces' collector, and for the first two the console's
 * charts) shares with it (the supervisor has no other network); Prometheus runs non-root,
 * read-only, without Docker, Redis or keys, its own port on the host's loopback only, its
 * configuration the repository's, mounted read-only.
 */
export function expectMetricsReachPrometheusAlone(config: ComposeConfig): void {
  const router = service(config, 'router');
  const supervisor = service(config, 'supervisor');
  const prometheus = service(config, 'prometheus');
  expect(router.environment?.BULKHEAD_ROUTER_METRICS_PORT).toBe('9464');
  expect(supervisor.environment?.BULKHEAD_METRICS_PORT).toBe('9465');
  expect(service(config, 'egress').environment?.BULKHEAD_EGRESS_METRICS_PORT).toBe('9466');
  const scraped = Object.keys(prometheus.networks ?? {}).filter((n) => n !== 'prometheus-ui');
  expect(scraped.sort()).toEqual(['egress-telemetry', 'router-telemetry', 'supervisor-telemetry']);
  for (const network of scraped) expect(config.networks?.[network]?.internal, network).toBe(true);
  // The traces' collector, where deploy/compose/tracing.yml adds it: expectTracesReachCollectorAlone.
  const scrapers = (network: string): string[] => membersOf(config, network).filter((m) => m !== COLLECTOR);
  // With deploy/compose/console.yml, the console scrapes the same two for its charts.
  const consoleScraper = 'console' in config.services ? ['console'] : [];
  expect(scrapers('router-telemetry')).toEqual([...consoleScraper, 'prometheus', 'router']);
  expect(scrapers('supervisor-telemetry')).toEqual([...consoleScraper, 'prometheus', 'supervisor']);
  expect(scrapers('egress-telemetry')).toEqual(['egress', 'prometheus']);
  expect(Object.keys(supervisor.networks ?? {})).toEqual(['supervisor-telemetry']);
  expect(supervisor.network_mode).toBeUndefined();
  expect(membersOf(config, 'prometheus-ui')).toEqual(['prometheus']);
  expect((prometheus.ports ?? []).length).toBe(1);
  for (const port of prometheus.ports ?? []) expect(String(port)).toMatch(/^127\.0\.0\.1:/);
  expect(prometheus.user ?? '').not.toMatch(/^(0|root)(:|$)/);
  expectConfined(prometheus);
  expect(holdsDockerAccess(prometheus)).toBe(false);
  expect(secretNames(prometheus)).toEqual([]);
  expect(prometheus.environment ?? {}).toEqual({});
  const files = mounts(prometheus).filter((m) => m.target.startsWith('/etc/bulkhead/'));
  const byTarget = (a: { target: string }, b: { target: string }): number => a.target.localeCompare(b.target);
  expect(files.sort(byTarget)).toEqual(
    ['alerts.yml', 'prometheus.yml'].map((file) => ({
      source: resolve(ROOT, 'deploy/prometheus', file),
      target: `/etc/bulkhead/${file}`,
      readOnly: true,
    })),
  );
}

/** The collector deploy/compose/tracing.yml adds, and the URL the processes export to. */
export const COLLECTOR = 'otlp-collector';
const COLLECTOR_URL = `http://${COLLECTOR}:4318/v1/traces`;
const COLLECTOR_LOGS_URL = `http://${COLLECTOR}:4318/v1/logs`;
/** Each process that exports spans, and the internal network it shares with the collector. */
const EXPORTERS = {
  router: 'router-telemetry',
  supervisor: 'supervisor-telemetry',
  egress: 'egress-telemetry',
};

/**
 * Traces (deploy/compose/tracing.yml): the router, the supervisor and the egress gateway export to the
 * collector (and the supervisor its sealed audit segments, as logs), each over an internal network it
 * shares with nothing else but the collector and its scrapers (Prometheus, and for the first two the
 * console where deploy/compose/console.yml adds it), so no two of them share a network through it. The collector is
 * confined as the other services are: non-root, no Docker, Redis, keys or published port, its
 * configuration mounted read-only; its one route out is a network no other service joins.
 */
export function expectTracesReachCollectorAlone(config: ComposeConfig): void {
  const collector = service(config, COLLECTOR);
  for (const [name, network] of Object.entries(EXPORTERS)) {
    expect(service(config, name).environment?.BULKHEAD_OTLP_TRACES_ENDPOINT, name).toBe(COLLECTOR_URL);
    // The sealed audit feed for the SIEM: the supervisor's, through the same collector.
    const logs = service(config, name).environment?.BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT;
    expect(logs, name).toBe(name === 'supervisor' ? COLLECTOR_LOGS_URL : undefined);
    expect(config.networks?.[network]?.internal, network).toBe(true);
    const scraped =
      name === 'egress'
        ? ['prometheus']
        : [...('console' in config.services ? ['console'] : []), 'prometheus'];
    expect(membersOf(config, network), network).toEqual([name, COLLECTOR, ...scraped].sort());
  }
  const out = Object.keys(collector.networks ?? {}).filter((n) => !Object.values(EXPORTERS).includes(n));
  expect(out).toEqual(['collector-out']);
  expect(membersOf(config, 'collector-out')).toEqual([COLLECTOR]);
  expect(config.networks?.['collector-out']?.internal ?? false).toBe(false);
  expect(collector.network_mode).toBeUndefined();
  expect(collector.user ?? '').toMatch(/^[1-9]\d*:[1-9]\d*$/);
  expectConfined(collector);
  expect(holdsDockerAccess(collector)).toBe(false);
  expect(secretNames(collector)).toEqual([]);
  expect(collector.ports ?? []).toEqual([]);
  expect(mounts(collector).map(({ target, readOnly }) => ({ target, readOnly }))).toEqual([
    { target: '/etc/bulkhead/collector.yaml', readOnly: true },
  ]);
}

export const CHECKS = {
  'only the supervisor holds the Docker socket': expectOnlySupervisorHoldsDocker,
  'the router runs non-root, read-only, without capabilities or new privileges': expectRouterHardened,
  'the run directory has the same path on the host, in the supervisor and in the router':
    expectRunDirSharedAtSamePath,
  'the router alone holds the private call-assertion key, the supervisor the public one': expectKeysSplit,
  'redis is append-only, on a volume, healthy-gated, on its socket alone, no network':
    expectRedisDurableOnItsSocket,
  'the dev IdP exists only under the dev profile, Prometheus and the CLI only under their own':
    expectDevIdpOnlyInDevProfile,
  'every image is built on this host, none pulled': expectImagesBuiltLocally,
  'development code runs only in the dev profile, from its own image': expectDevImageOnlyInDevProfile,
  'the CLI runs non-root and read-only, without a network, Docker or keys': expectCliConfined,
  'the egress gateway runs non-root and read-only, without Docker, capabilities or keys but its own':
    expectEgressConfined,
  'metrics reach Prometheus (and the console) alone, on internal networks; Prometheus confined, on loopback':
    expectMetricsReachPrometheusAlone,
  'the supervisor alone signs and writes sealed audit segments; the CLI (and the console) read them':
    expectAuditSealedBySupervisorAlone,
  "the operator's packs are read-only in the CLI and the supervisor, and nowhere else":
    expectPacksReadOnlyInCliAndSupervisor,
} satisfies Record<string, (config: ComposeConfig) => void>;
