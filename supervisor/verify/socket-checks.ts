// Socket-integrity evidence for `verify`: the tenant owns its socket directory, so what sits at the
// socket path is checked like any other control. Read-only: a failure here is reported, and the
// connection paths (router, health pass) record the event and recycle the runtime when they meet it.
import { readlinkSync } from 'node:fs';
import { request } from 'node:http';
import type { IsolationCheck } from '../client/isolation-report.ts';
import {
  inspectRuntimeSocket,
  runtimeRequestOptions,
  tamperedSocketIn,
  type UnixEndpoint,
} from '../client/runtime-socket.ts';

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

export async function socketChecks(
  endpoint: UnixEndpoint,
  options: { timeoutMs?: number } = {},
): Promise<IsolationCheck[]> {
  const found = inspectRuntimeSocket(endpoint.socketPath);
  const what = !found
    ? 'nothing'
    : found.kind === 'symlink'
      ? `a symlink to ${linkTarget(endpoint.socketPath)}`
      : `a ${found.kind}`;
  const answer = await healthThroughCheckedSocket(endpoint, options.timeoutMs ?? 2_000);
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
  ];
}
