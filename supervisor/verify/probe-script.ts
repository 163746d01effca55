// The probe program run inside a tenant container (as the container's own user, with `node -e`):
// it tries what a compromised tenant would try and reports each attempt. Plain JavaScript in a
// string because it runs in the runtime image, not in this process.
import { CONTAINER_DATA_DIR } from '../../kernel/wire/runtime-endpoint.ts';

/** The most of its own mount table the probe reports (a container's is a few KiB). */
export const PROBE_MAX_MOUNTINFO_CHARS = 64 * 1024;
/** The most entries of one root the probe lists: past them the check fails, as it cannot see all. */
export const PROBE_MAX_ROOT_ENTRIES = 64;

export const PROBE_SCRIPT = String.raw`
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const out = {};
const attempt = (fn) => { try { return { ok: true, value: fn() }; } catch (e) { return { ok: false, code: e.code || String(e.message) }; } };
out.interfaces = Object.keys(os.networkInterfaces()).sort();
out.sysNet = attempt(() => fs.readdirSync('/sys/class/net').sort()).value || null;
const routes = attempt(() => fs.readFileSync('/proc/net/route', 'utf8').trim().split('\n').slice(1).filter(Boolean));
out.routes = routes.ok ? routes.value.map((l) => l.split(/\s+/).slice(0, 3).join(' ')) : [];
out.dockerSockets = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock'].filter((p) => fs.existsSync(p));
const w = attempt(() => fs.writeFileSync('/bulkhead-probe', 'x'));
out.rootWrite = w.ok ? 'written' : w.code;
if (w.ok) attempt(() => fs.unlinkSync('/bulkhead-probe'));
out.uid = process.getuid(); out.gid = process.getgid(); out.groups = process.getgroups();
// The owners of the processes it can see: in a PID namespace of its own, only its tenant's UID.
const uidOf = (pid) => /^Uid:\s+(\d+)/m.exec(attempt(() => fs.readFileSync('/proc/' + pid + '/status', 'utf8')).value || '');
const pids = attempt(() => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))).value || [];
const uids = pids.map(uidOf).filter(Boolean).map((m) => Number(m[1]));
out.processUids = [...new Set(uids)].slice(0, ${PROBE_MAX_ROOT_ENTRIES});
const read = (p) => { const r = attempt(() => fs.readFileSync(p, 'utf8').trim()); return r.ok ? r.value : null; };
out.memoryLimit = read('/sys/fs/cgroup/memory/memory.limit_in_bytes') || read('/sys/fs/cgroup/memory.max');
out.pidsLimit = read('/sys/fs/cgroup/pids/pids.max') || read('/sys/fs/cgroup/pids.max');
const cfs = [read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')];
out.cpuMax = cfs[0] && cfs[1] ? cfs.join(' ') : read('/sys/fs/cgroup/cpu.max');
// Given no tenant's name (any process of the tenant can read this one's environment and command
// line): it reports its own mount table and what it can list and read under the roots it is given,
// and the supervisor decides which of those are another tenant's. Each part is capped, so that the
// whole stays under the supervisor's output bound.
const mountinfo = read('/proc/self/mountinfo') || '';
out.mountinfo = mountinfo.slice(0, ${PROBE_MAX_MOUNTINFO_CHARS});
out.mountinfoTruncated = mountinfo.length > ${PROBE_MAX_MOUNTINFO_CHARS};
out.roots = JSON.parse(process.env.PROBE_ROOTS || '[]').map((root) => {
  const at = attempt(() => fs.statSync(root).isDirectory());
  if (!at.ok || !at.value) return { root, absent: at.ok ? 'ENOTDIR' : at.code };
  const listed = attempt(() => fs.readdirSync(root).sort());
  if (!listed.ok) return { root, unlisted: listed.code };
  const entries = listed.value.slice(0, ${PROBE_MAX_ROOT_ENTRIES});
  const readable = entries.flatMap((e) => [e, e + '/_data'])
    .filter((p) => attempt(() => fs.readdirSync(root + '/' + p)).ok);
  return { root, entries, truncated: listed.value.length > entries.length, readable };
});
out.socketDir = attempt(() => fs.readdirSync('/run/mcp')).value || null;
// The size of the filesystem its data is on, as the kernel reports it to the tenant.
const data = attempt(() => fs.statfsSync('${CONTAINER_DATA_DIR}'));
out.dataBytes = data.ok ? data.value.blocks * data.value.bsize : null;
const finish = () => { process.stdout.write(JSON.stringify(out)); process.exit(0); };
if (out.routes.length > 0) { out.connect = 'skipped: a route exists'; finish(); }
else {
  const s = net.connect({ host: '192.0.2.1', port: 80 });
  const t = setTimeout(() => { out.connect = 'no immediate failure'; s.destroy(); finish(); }, 1500);
  s.on('connect', () => { clearTimeout(t); out.connect = 'connected'; s.destroy(); finish(); });
  s.on('error', (e) => { clearTimeout(t); out.connect = e.code || e.message; finish(); });
}
`;
