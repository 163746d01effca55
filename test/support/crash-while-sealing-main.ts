// A sealer that dies (SIGKILL, as a crash or the OOM killer would) in the middle of writing a
// segment (kernel/audit/segment-files.ts): at `rename`, while it makes a tenant's segment
// directory, after mkdtemp, chown and chmod and right before the rename that puts it in place; at
// `link`, with the tenant's directory in place, once the segment's temporary file is written,
// synced and made read-only and right before the link that gives it its name. What it leaves in
// the audit directory is what such a crash leaves. Arguments: the audit directory, the tenant, the
// readers' group, the step (`rename` unless given). The real code path, writeSegmentFile, with
// node:fs/promises' rename or link replaced for this process alone.
import type { PathLike } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';

const [root, tenant, gid, step = 'rename'] = process.argv.slice(2) as [string, string, string, string?];
const fs = createRequire(import.meta.url)('node:fs/promises') as typeof FsPromises;
const temporary = step === 'link' ? `.tmp-${process.pid}-` : `.tmp-${tenant}-`;
if (step !== 'rename' && step !== 'link') throw new Error(`no such step: ${step}`);
const original = fs[step];
fs[step] = async (from: PathLike, to: PathLike) => {
  if (basename(String(from)).startsWith(temporary)) process.kill(process.pid, 'SIGKILL');
  return original(from, to);
};
// The ES module bindings (segment-files.ts's `import { rename, link }`) follow the replaced export.
syncBuiltinESMExports();
const { writeSegmentFile } = await import('../../kernel/audit/segment-files.ts');
await writeSegmentFile(join(root, tenant), 1, '{"type":"header"}\n', { readerGid: Number(gid) });
process.stdout.write(`${step}: the crash was not reached\n`);
