// What a tenant can leave in its socket directory does not cost the supervisor what it would cost to
// remove it in-process (supervisor/docker/remove-tree.ts): a tree past the path limit is removed, a
// directory of tens of thousands of files is removed without the supervisor's memory growing with
// it, a directory planted where a file goes is removed, and a symlink is never followed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeEntry, removeTree } from '../../supervisor/docker/remove-tree.ts';
import { DEEP_TREE_SCRIPT } from '../support/deep-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) execFileSync('rm', ['-rf', dir]);
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-remove-tree-'));
  dirs.push(dir);
  return dir;
}

describe('removing a tenant-writable directory', () => {
  it('removes a tree deeper than the path limit, built with relative paths', async () => {
    const dir = join(scratch(), 'socket-dir');
    mkdirSync(dir);
    execFileSync(process.execPath, ['-e', DEEP_TREE_SCRIPT, dir]);
    await removeTree(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it("removes 30,000 files without the supervisor's memory growing with them", async () => {
    const dir = join(scratch(), 'socket-dir');
    mkdirSync(dir);
    execFileSync('sh', [
      '-c',
      `cd ${dir} && seq -f 'a-long-name-planted-by-the-tenant-%06g' 30000 | xargs touch`,
    ]);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      await removeTree(dir);
    } finally {
      clearInterval(sample);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(existsSync(dir)).toBe(false);
    // In-process, Node's recursive rm held about 3.5 KB per entry at once: about 100 MB here.
    expect(peak - before).toBeLessThan(32 * 1024 * 1024);
  });

  it('removes the few sockets of a usual socket directory, and nothing when it is gone', async () => {
    const dir = join(scratch(), 'socket-dir');
    mkdirSync(dir);
    for (const name of ['mcp.sock', 'egress.sock']) writeFileSync(join(dir, name), '');
    await removeTree(dir);
    expect(existsSync(dir)).toBe(false);
    await expect(removeTree(dir)).resolves.toBeUndefined();
  });

  it('removes a symlink planted in place of the directory, and never what it points to', async () => {
    const root = scratch();
    const target = join(root, 'host-dir');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    const dir = join(root, 'socket-dir');
    symlinkSync(target, dir);
    await removeTree(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(target, 'keep'))).toBe(true);
    // Inside a directory too: the link goes, the target stays.
    const full = join(root, 'full');
    mkdirSync(join(full, 'sub'), { recursive: true });
    symlinkSync(target, join(full, 'sub', 'link'));
    await removeTree(full);
    expect(existsSync(full)).toBe(false);
    expect(existsSync(join(target, 'keep'))).toBe(true);
  });

  it('removes a directory planted where a file goes, and a file or a dangling symlink as it is', async () => {
    const root = scratch();
    const planted = join(root, '.secrets.json');
    mkdirSync(join(planted, 'deeper'), { recursive: true });
    await removeEntry(planted);
    expect(existsSync(planted)).toBe(false);
    writeFileSync(planted, '{}');
    await removeEntry(planted);
    expect(existsSync(planted)).toBe(false);
    symlinkSync(join(root, 'nowhere'), planted);
    await removeEntry(planted);
    expect(() => rmSync(planted)).toThrow();
  });
});
