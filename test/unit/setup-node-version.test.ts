// .ci/setup.sh keeps the system's Node only from the version the code runs on (package.json
// "engines", type stripping without a flag); before, it compared the major version alone and kept a
// Node 22.0 to 22.17, on which nothing of Bulkhead starts. Its node_supported function, run as the
// script defines it, against stand-in `node` executables that print a version.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = readFileSync('.ci/setup.sh', 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'bulkhead-setup-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The script's own definitions, from NODE_MINIMUM to the end of node_supported. */
const definitions = /^NODE_MINIMUM=[^]*?^node_supported\(\) \{[^]*?^\}$/m.exec(script)?.[0];

function supported(version: string | undefined): boolean {
  const node = join(dir, `node-${version ?? 'missing'}`);
  if (version !== undefined) {
    writeFileSync(node, `#!/bin/sh\necho ${version}\n`);
    chmodSync(node, 0o755);
  }
  const out = execFileSync(
    'bash',
    ['-c', `${definitions}\nnode_supported "$1" && echo yes || echo no`, '_', node],
    {
      encoding: 'utf8',
    },
  );
  return out.trim() === 'yes';
}

describe("the setup's check of the system Node", () => {
  it('asks for the version package.json names', () => {
    const engines = JSON.parse(readFileSync('package.json', 'utf8')).engines.node as string;
    expect(engines).toBe(`>=${/^NODE_MINIMUM="([^"]+)"/m.exec(script)?.[1]}`);
  });

  it('keeps 22.18 and later, and nothing before it', () => {
    expect(definitions).toBeDefined();
    const versions = ['20.19.0', '22.9.0', '22.17.1', '22.18.0', '22.20.0', '24.21.0'];
    expect(versions.map((v) => [v, supported(v)])).toEqual([
      ['20.19.0', false],
      ['22.9.0', false],
      ['22.17.1', false],
      ['22.18.0', true],
      ['22.20.0', true],
      ['24.21.0', true],
    ]);
    expect(supported(undefined)).toBe(false);
  });
});
