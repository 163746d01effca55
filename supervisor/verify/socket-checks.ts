// Socket-integrity evidence for `verify`: the tenant owns its socket directory, so what sits at the
// socket path is checked like any other control. Read-only: a failure here is reported, and the
// connection paths (router, health pass) record the event and recycle the runtime when they meet it.
import { readlinkSync } from 'node:fs';
import { request } from 'node:http';
import type { IsolationTier } from '../../kernel/tenant/tenant-spec.ts';
import type { IsolationCheck } from '../client/isolation-report.ts';
import {
  inspectRuntimeSocket,
  runtimeRequestOptions,
  tamperedSocketIn,
  type UnixEndpoint,
} from '../client/runtime-socket.ts';
import { readPeerCredentials, type PeerCredentials } from './peer-credentials.ts';

/** A symlink's target, for the report; '?' if it changed under us (it is not followed either way). */
function linkTarget(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}

function check(id: string, control: string, pass: boolean, ok: string, bad: string): IsolationCheck {
  return { id, control, source: 'host', pass, why: pass ? ok : bad };
}

/** GET /healthz through the checked connection: the status, or why no connection was made. */
function healthThroughCheckedSocket(endpoint: UnixEndpoint, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        ...runtimeRequestOptions(endpoint),
        path: '/healthz',
        method: 'GET',
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        res.resume();
        resolve(`HTTP ${res.statusCode ?? 0}`);
      },
    );
    req.on('error', (error) => {
      const tampered = tamperedSocketIn(error);
      if (tampered) resolve(`refused before connecting: ${tampered.message}`);
      else resolve(error.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : error.message);
    });
    req.end();
  });
}

/**
 * Whether the connected peer is who the tier says serves the tenant: under runc the runtime itself
 * (the tenant's UID); under gVisor runsc's gofer (root), which relays to the sandbox, and, when its
 * process is visible from here, the gofer of this very container.
 */
function peerVerdict(
  peer: PeerCredentials,
  expected: { uid: number; isolation: IsolationTier; runtimeId: string },
): { pass: boolean; why: string } {
  if ('refused' in peer) return { pass: false, why: `no connection made: ${peer.refused}` };
  const seen = `peer pid ${peer.pid}, uid ${peer.uid}, gid ${peer.gid}${peer.command ? ` (${peer.command.slice(0, 60)})` : ''}`;
  if (expected.isolation !== 'gvisor')
    return { pass: peer.uid === expected.uid, why: `${seen}; expected uid ${expected.uid}` };
  if (peer.uid !== 0) return { pass: false, why: `${seen}; expected runsc's gofer (uid 0)` };
  if (peer.command === undefined)
    return { pass: true, why: `${seen}: root, as runsc's gofer; its process is not visible from here` };
  const gofer = peer.command.includes('runsc-gofer') && peer.command.includes(expected.runtimeId);
  return {
    pass: gofer,
    why: gofer
      ? `peer pid ${peer.pid}, uid 0: runsc's gofer of container ${expected.runtimeId.slice(0, 12)}`
      : `${seen}; expected runsc's gofer of container ${expected.runtimeId.slice(0, 12)}`,
  };
}

export async function socketChecks(
  endpoint: UnixEndpoint,
  options: { isolation: IsolationTier; runtimeId: string; timeoutMs?: number },
): Promise<IsolationCheck[]> {
  const found = inspectRuntimeSocket(endpoint.socketPath);
  const what = !found
    ? 'nothing'
    : found.kind === 'symlink'
      ? `a symlink to ${linkTarget(endpoint.socketPath)}`
      : `a ${found.kind}`;
  const answer = await healthThroughCheckedSocket(endpoint, options.timeoutMs ?? 2_000);
  const peer = peerVerdict(await readPeerCredentials(endpoint, options.timeoutMs ?? 2_000), {
    uid: endpoint.uid,
    isolation: options.isolation,
    runtimeId: options.runtimeId,
  });
  return [
    check(
      'socket.type',
      'the runtime socket is a socket, not a link, file or FIFO',
      found?.kind === 'socket',
      `${endpoint.socketPath} is a socket`,
      `${endpoint.socketPath} is ${what}`,
    ),
    check(
      'socket.owner',
      "the runtime socket is owned by the tenant's UID",
      found?.kind === 'socket' && found.uid === endpoint.uid,
      `owner uid ${found?.uid ?? '?'}, gid ${found?.gid ?? '?'}`,
      found?.kind === 'socket'
        ? `owner uid ${found.uid}, expected ${endpoint.uid}`
        : `no socket there (${what}${found ? ` of uid ${found.uid}` : ''})`,
    ),
    check(
      'socket.peer',
      'connections reach only the checked socket inode, and the runtime answers on it',
      answer === 'HTTP 200',
      `connected to the inode checked as a socket of uid ${endpoint.uid} (O_PATH, no link followed); /healthz answered ${answer}`,
      `the checked connection failed: ${answer}`,
    ),
    check(
      'socket.peer-credentials',
      "the connected peer's credentials (SO_PEERCRED) are those of the tenant's runtime",
      peer.pass,
      peer.why,
      peer.why,
    ),
  ];
}
