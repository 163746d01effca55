// Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, with the
// file they live in, and the share of sampled time per area (router, kernel, SDK, jose, pino, ...).
// Used for docs/performance.md's hot-path summary; asserts nothing.
//   node --cpu-prof --cpu-prof-dir=DIR test/bench/router-peer.ts
//   node test/bench/profile-summary.ts DIR/*.cpuprofile [--top 20]   (each file, under its name)
//   node test/bench/router-peer.ts --profile DIR, then
//   node test/bench/profile-summary.ts DIR/router.cpuprofile --calls N   (also µs per call)
import { readFile } from 'node:fs/promises';
import { badArgument, benchArgs } from './bench-args.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = benchArgs(import.meta.filename, {
  options: { top: { type: 'string', default: '20' }, calls: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length === 0) badArgument('give one or more FILE.cpuprofile');
if (values.calls !== undefined && !/^[1-9]\d*$/.test(values.calls))
  badArgument(`--calls takes a whole number of calls, not "${values.calls}"`);
const calls = values.calls === undefined ? undefined : Number(values.calls);

/** Where a function lives, shortened: our own path, or the package name under node_modules. */
function placeOf(url: string): string {
  if (url === '') return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return url;
  const ours = /\/(router|kernel|supervisor|tenants|dev|test|runtime-image)\/.*$/.exec(url)?.[0];
  return ours ? ours.slice(1) : url;
}

function areaOf(place: string): string {
  const top = place.startsWith('node:') ? 'node' : (place.split('/')[0] ?? place);
  return place.startsWith('@') ? place : top;
}

function summarize(profile: Profile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] ?? -1);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') continue;
    total += dt;
    const place = placeOf(url);
    const key = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    areas.set(areaOf(place), (areas.get(areaOf(place)) ?? 0) + dt);
  }

  const perCall = (us: number): string => (calls ? `${(us / calls).toFixed(1).padStart(7)} µs/call  ` : '');
  const pct = (us: number): string => `${perCall(us)}${((100 * us) / total).toFixed(1).padStart(5)} %`;
  console.log(
    `busy samples: ${(total / 1000).toFixed(0)} ms (idle and (program) left out)` +
      (calls ? `, ${calls} calls: ${(total / calls).toFixed(1)} µs of busy CPU per call` : ''),
  );
  console.log('by area:');
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${pct(us)}  ${area}`);
  console.log(`top ${values.top} functions by self time:`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`  ${pct(us)}  ${key}`);
}

// Each file given (a directory's several profiles, DIR/*.cpuprofile), under its name when several.
for (const file of positionals) {
  if (positionals.length > 1) console.log(`== ${file}`);
  summarize(JSON.parse(await readFile(file, 'utf8')) as Profile);
}
