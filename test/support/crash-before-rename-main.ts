// A sealer that dies (SIGKILL, as a crash or the OOM killer would) while it makes a tenant's
// segment directory, after mkdtemp, chown and chmod and right before the rename that puts it in
// place (kernel/audit/segment-files.ts): what it leaves in the audit directory is what such a
// crash leaves. Arguments: the audit directory, the tenant, the readers' group. The real code path,
// writeSegmentFile, with node:fs/promises' rename replaced for this process alone.
import type * as FsPromises from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';

const [root, tenant, gid] = process.argv.slice(2) as [string, string, string];
const fs = createRequire(import.meta.url)('node:fs/promises') as typeof FsPromises;
const rename = fs.rename;
fs.rename = async (from, to) => {
  if (basename(String(from)).startsWith(`.tmp-${tenant}-`)) process.kill(process.pid, 'SIGKILL');
  return rename(from, to);
};
// The ES module bindings (segment-files.ts's `import { rename }`) follow the replaced export.
syncBuiltinESMExports();
const { writeSegmentFile } = await import('../../kernel/audit/segment-files.ts');
await writeSegmentFile(join(root, tenant), 1, '{"type":"header"}\n', { readerGid: Number(gid) });
process.stdout.write('renamed: the crash was not reached\n');
