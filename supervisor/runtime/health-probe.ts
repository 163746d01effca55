// Readiness of a tenant runtime: its socket answers the (data-free) health endpoint. The connection
// goes through the socket checks (client/runtime-socket.ts): a tampered socket is never connected
// to, and the probe rejects with RuntimeSocketTamperedError so that the caller treats it as the
// security event it is, not as a slow start. The answer comes from tenant code, so the read is
// bounded: headers at most 16 KiB, the status line is all that is read (the body is discarded
// unread), and the whole probe ends within its deadline: 2 s while a runtime starts (the start
// wait probes again and again), longer for a runtime already serving (supervisor/config.ts
// `liveProbeMs`), because the probe queues behind the calls it is busy with: a busy runtime
// answers late, a frozen or wedged one never does.
import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import { connectRuntimeSocket, runtimeRequestOptions, tamperedSocketIn } from '../client/runtime-socket.ts';

/**
 * Resolves whether the runtime answered healthy within `deadlineMs` (default START_PROBE_MS);
 * rejects only when its socket was tampered with.
 */
export type HealthProbe = (endpoint: RuntimeEndpoint, deadlineMs?: number) => Promise<boolean>;

const PROBE_MAX_HEADER_BYTES = 16 * 1024;
/** Each probe of the start wait (which probes again until the start's own deadline). */
export const START_PROBE_MS = 2_000;

export const probeHealth: HealthProbe = (endpoint, deadlineMs = START_PROBE_MS) =>
  new Promise((resolve, reject) => {
    const target =
      endpoint.kind === 'unix'
        ? { ...runtimeRequestOptions(endpoint), path: '/healthz' }
        : { host: new URL(endpoint.url).hostname, port: new URL(endpoint.url).port, path: '/healthz' };
    // A signal, not the `timeout` option: that one never fires on a connection made by
    // `createConnection` (measured), and a frozen runtime accepts connections but never answers.
    const req = request(
      {
        ...target,
        method: 'GET',
        signal: AbortSignal.timeout(deadlineMs),
        maxHeaderSize: PROBE_MAX_HEADER_BYTES,
      },
      (res) => {
        resolve(res.statusCode === 200);
        req.destroy();
      },
    );
    req.on('error', (error) => {
      const tampered = tamperedSocketIn(error);
      if (tampered) reject(tampered);
      else resolve(false);
    });
    req.on('close', () => {
      resolve(false);
    });
    req.end();
  });

/**
 * Resolves whether something listens on the runtime's socket: a connection to the checked inode
 * (client/runtime-socket.ts) is accepted within `deadlineMs`, and closed at once; nothing is sent.
 * Rejects only when the socket was tampered with. A TCP endpoint resolves false (no such check).
 */
export type ListeningCheck = (endpoint: RuntimeEndpoint, deadlineMs?: number) => Promise<boolean>;

export const socketListening: ListeningCheck = (endpoint, deadlineMs = START_PROBE_MS) =>
  new Promise((resolve, reject) => {
    if (endpoint.kind !== 'unix') return resolve(false);
    let socket: Socket;
    try {
      socket = connectRuntimeSocket(endpoint);
    } catch (error) {
      const tampered = tamperedSocketIn(error);
      return tampered ? reject(tampered) : resolve(false);
    }
    const done = (listening: boolean) => (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(listening);
    };
    const timer = setTimeout(done(false), deadlineMs);
    socket.once('connect', done(true));
    socket.once('error', done(false));
  });
