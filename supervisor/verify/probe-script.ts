// The probe program run inside a tenant container (as the container's own user, with `node -e`):
// it tries what a compromised tenant would try and reports each attempt. Plain JavaScript in a
// string because it runs in the runtime image, not in this process.
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
out.uid = process.getuid(); out.gid = process.getgid();
const read = (p) => { const r = attempt(() => fs.readFileSync(p, 'utf8').trim()); return r.ok ? r.value : null; };
out.memoryLimit = read('/sys/fs/cgroup/memory/memory.limit_in_bytes') || read('/sys/fs/cgroup/memory.max');
out.pidsLimit = read('/sys/fs/cgroup/pids/pids.max') || read('/sys/fs/cgroup/pids.max');
const cfs = [read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')];
out.cpuMax = cfs[0] && cfs[1] ? cfs.join(' ') : read('/sys/fs/cgroup/cpu.max');
const mountinfo = read('/proc/self/mountinfo') || '';
const others = JSON.parse(process.env.PROBE_OTHERS || '[]');
out.othersVisible = others.filter((o) => mountinfo.includes(o.volume) || mountinfo.includes(o.socketDir));
out.othersReadable = others.flatMap((o) => ['/var/lib/docker/volumes/' + o.volume + '/_data', o.socketDir])
  .filter((p) => attempt(() => fs.readdirSync(p)).ok);
out.socketDir = attempt(() => fs.readdirSync('/run/mcp')).value || null;
const finish = () => { process.stdout.write(JSON.stringify(out)); process.exit(0); };
if (out.routes.length > 0) { out.connect = 'skipped: a route exists'; finish(); }
else {
  const s = net.connect({ host: '192.0.2.1', port: 80 });
  const t = setTimeout(() => { out.connect = 'no immediate failure'; s.destroy(); finish(); }, 1500);
  s.on('connect', () => { clearTimeout(t); out.connect = 'connected'; s.destroy(); finish(); });
  s.on('error', (e) => { clearTimeout(t); out.connect = e.code || e.message; finish(); });
}
`;
