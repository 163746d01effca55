// What verify's in-container probe reports from a hardened container of plan small (128 MiB,
// 64 PIDs, half a CPU per 1 s period, the default disk of 256 MiB) with nothing else in sight:
// tests change the part they check.
import type { ProbeObservation } from '../../supervisor/verify/probe-checks.ts';

export function hardenedProbe(uid: number, changed: Partial<ProbeObservation> = {}): ProbeObservation {
  return {
    interfaces: ['lo'],
    sysNet: ['lo'],
    routes: [],
    dockerSockets: [],
    rootWrite: 'EROFS',
    uid,
    gid: uid,
    groups: [uid],
    processUids: [uid],
    memoryLimit: String(128 * 1024 * 1024),
    pidsLimit: '64',
    cpuMax: '500000 1000000',
    mountinfo: '',
    mountinfoTruncated: false,
    roots: [],
    socketDir: ['mcp.sock'],
    dataBytes: 256 * 1024 * 1024,
    connect: 'ENETUNREACH',
    ...changed,
  };
}
