// A starting gVisor runtime's socket is briefly root-owned (the sandbox's gofer creates it, then
// hands it to the tenant's UID): the start wait treats that as "not ready yet", never connecting to
// it; any other finding, and a root-owned socket outside the start, is recorded as tampering.
import { describe, expect, it } from 'vitest';
import { RuntimeSocketTamperedError, type SocketInspection } from '../../supervisor/client/runtime-socket.ts';
import type { TamperWitness } from '../../supervisor/client/socket-tamper.ts';
import { RuntimeHealth } from '../../supervisor/lifecycle/runtime-health.ts';
import type { RuntimeInfo } from '../../supervisor/runtime/runtime-driver.ts';

const endpoint = { kind: 'unix' as const, socketPath: '/run/t/mcp.sock', uid: 100_123 };
const info = { tenantId: 'acme', runtimeId: 'r1', state: 'running', endpoint } as unknown as RuntimeInfo;

function healthWith(found: SocketInspection): { health: RuntimeHealth; recorded: TamperWitness[] } {
  const recorded: TamperWitness[] = [];
  const health = new RuntimeHealth({
    view: { inspect: () => Promise.resolve(info) },
    probe: () => Promise.reject(new RuntimeSocketTamperedError(endpoint, found)),
    tamper: { record: (_tenant, _error, witness) => Promise.resolve(void recorded.push(witness)) },
    healthTimeoutMs: 50,
    liveProbeMs: 50,
  });
  return { health, recorded };
}

describe("RuntimeHealth and a socket found not to be the tenant's", () => {
  it('waits on a root-owned socket while the runtime starts, recording nothing', async () => {
    const { health, recorded } = healthWith({ kind: 'socket', uid: 0, gid: 0 });
    expect(await health.check(info, 'supervisor-start')).toBe('unhealthy');
    await expect(health.waitUntilHealthy(info, () => undefined)).rejects.toThrow(/did not become healthy/);
    expect(recorded).toEqual([]);
  });

  it('records a root-owned socket found by the health pass or the router', async () => {
    const { health, recorded } = healthWith({ kind: 'socket', uid: 0, gid: 0 });
    expect(await health.check(info, 'supervisor-health')).toBe('tampered');
    expect(recorded).toEqual(['supervisor-health']);
  });

  it('fails a start at once on anything else: another UID, a link, a file', async () => {
    for (const found of [
      { kind: 'socket', uid: 4242, gid: 4242 },
      { kind: 'symlink', uid: 100_123, gid: 100_123 },
      { kind: 'file', uid: 0, gid: 0 },
    ] as const) {
      const { health, recorded } = healthWith(found);
      await expect(health.waitUntilHealthy(info, () => undefined)).rejects.toThrow(
        /tampered with its socket/,
      );
      expect(recorded).toEqual(['supervisor-start']);
    }
  });
});

describe('RuntimeHealth and a runtime woken from paused', () => {
  function woken(listening: () => Promise<boolean>): {
    health: RuntimeHealth;
    probes: number[];
    recorded: TamperWitness[];
  } {
    const probes: number[] = [];
    const recorded: TamperWitness[] = [];
    const health = new RuntimeHealth({
      view: { inspect: () => Promise.resolve(info) },
      probe: () => Promise.resolve(probes.push(1) > 0),
      listening,
      tamper: { record: (_tenant, _error, witness) => Promise.resolve(void recorded.push(witness)) },
      healthTimeoutMs: 50,
      liveProbeMs: 50,
    });
    return { health, probes, recorded };
  }

  it('hands it out once its socket listens, without the start wait', async () => {
    const { health, probes } = woken(() => Promise.resolve(true));
    await health.waitUntilResumed(info, () => undefined);
    expect(probes).toEqual([]);
  });

  it('fails the wake on a socket that is not the tenant’s, recording it, probing nothing', async () => {
    const { health, probes, recorded } = woken(() =>
      Promise.reject(new RuntimeSocketTamperedError(endpoint, { kind: 'symlink', uid: 100_123, gid: 0 })),
    );
    await expect(health.waitUntilResumed(info, () => undefined)).rejects.toThrow(/tampered with its socket/);
    expect(recorded).toEqual(['supervisor-start']);
    expect(probes).toEqual([]);
  });

  it('falls back to the start wait when nothing listens', async () => {
    const { health, probes } = woken(() => Promise.resolve(false));
    await health.waitUntilResumed(info, () => undefined);
    expect(probes).toEqual([1]);
  });
});
