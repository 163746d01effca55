// docker-compose.yml as docker-compose itself makes of it (`docker-compose config`: interpolated,
// merged, normalised), for the tests that check the trust boundaries it encodes.
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { composeSync } from './compose.ts';

export type VolumeEntry = string | { type?: string; source?: string; target?: string; read_only?: boolean };

export interface Service {
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
  group_add?: (string | number)[];
  tmpfs?: string[] | string;
  privileged?: boolean;
  network_mode?: string;
  pid?: string;
}

export interface ComposeConfig {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

/** docker-compose 1.29 prints YAML only; PyYAML is there wherever it is (python3-yaml is its dependency). */
export function loadConfig(env: Record<string, string>, profileArgs: string[] = []): ComposeConfig {
  const yaml = composeSync([...profileArgs, 'config'], env);
  const json = execFileSync(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: yaml, encoding: 'utf8' },
  );
  return JSON.parse(json) as ComposeConfig;
}

export function service(config: ComposeConfig, name: string): Service {
  const found = config.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Volumes as { source, target, readOnly }, from either syntax. */
export function mounts(svc: Service): { source: string; target: string; readOnly: boolean }[] {
  return (svc.volumes ?? []).map((entry) => {
    if (typeof entry !== 'string') {
      return { source: entry.source ?? '', target: entry.target ?? '', readOnly: entry.read_only === true };
    }
    const [source = '', target = '', mode = ''] = entry.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

export function secretNames(svc: Service): string[] {
  return (svc.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
}

export function holdsDockerAccess(svc: Service): boolean {
  const socket = mounts(svc).some(
    (m) => m.source.endsWith('docker.sock') || m.target.endsWith('docker.sock'),
  );
  return socket || svc.environment?.DOCKER_HOST != null || svc.privileged === true;
}

/** The group a service runs with (`user: uid:gid`), and those `group_add` gives it. */
export function groupsOf(svc: Service): string[] {
  const [, gid] = (svc.user ?? '').split(':');
  return [...(gid ? [gid] : []), ...(svc.group_add ?? []).map(String)];
}

/** A service confined as every one but the supervisor is: read-only root, no capabilities, no new privileges. */
export function expectConfined(svc: Service): void {
  expect(svc.read_only).toBe(true);
  expect(svc.cap_drop).toEqual(['ALL']);
  expect(svc.cap_add ?? []).toEqual([]);
  expect(svc.security_opt).toContain('no-new-privileges:true');
}
