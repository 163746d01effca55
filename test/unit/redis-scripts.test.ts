// Lua lives in kernel/redis/lua/*.lua and nowhere else: no TypeScript file of the product holds a
// script or evaluates one by hand, every file is registered under exactly one name, and a client
// gets each script defined once however many stores share it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { LUA_SOURCES, redisScripts, SCRIPTS, type ScriptName } from '../../kernel/redis/scripts.ts';

const ROOT = join(import.meta.dirname, '../..');
const LUA_DIR = join(ROOT, 'kernel/redis/lua');
const PRODUCT_DIRS = ['kernel', 'router', 'supervisor', 'tenants', 'dev', 'runtime-image/src'];

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('Lua scripts', () => {
  it('are in no TypeScript file of the product, and none is evaluated by hand', () => {
    const offenders: string[] = [];
    for (const dir of PRODUCT_DIRS) {
      for (const file of typescriptFiles(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        if (/redis\.call\(|redis\.pcall\(|\.eval(sha)?\(/.test(text)) offenders.push(relative(ROOT, file));
      }
    }
    expect(offenders).toEqual([]);
  });

  it('registers every .lua file exactly once', () => {
    const files = readdirSync(LUA_DIR).filter((name) => name.endsWith('.lua'));
    const registered = Object.values(SCRIPTS).map((script) => script.file);
    expect(new Set(registered).size).toBe(registered.length);
    expect([...registered].sort()).toEqual([...files].sort());
    for (const name of Object.keys(SCRIPTS) as ScriptName[])
      expect(LUA_SOURCES[name]).toBe(readFileSync(join(LUA_DIR, SCRIPTS[name].file), 'utf8'));
  });

  it('names as many keys and arguments as each script reads', () => {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const source = LUA_SOURCES[name];
      const spec: { batched?: boolean } = SCRIPTS[name];
      if (spec.batched) {
        // A batched script reads its calls' keys and arguments in blocks of the sizes it declares.
        const declared = /local KEYS_PER_CALL, ARGS_PER_CALL = (\d+), (\d+)/.exec(source);
        expect({ name, keys: SCRIPTS[name].keys.length, args: SCRIPTS[name].args.length }).toEqual({
          name,
          keys: Number(declared?.[1]),
          args: Number(declared?.[2]),
        });
        continue;
      }
      const highest = (kind: 'KEYS' | 'ARGV'): number =>
        Math.max(0, ...[...source.matchAll(new RegExp(`${kind}\\[(\\d+)\\]`, 'g'))].map((m) => Number(m[1])));
      expect({ name, keys: SCRIPTS[name].keys.length, args: SCRIPTS[name].args.length }).toEqual({
        name,
        keys: highest('KEYS'),
        args: highest('ARGV'),
      });
    }
  });

  it('defines each script once per client, however many stores ask', () => {
    const redis = new Redis({ lazyConnect: true });
    const define = vi.spyOn(redis, 'defineCommand');
    const first = redisScripts(redis);
    expect(redisScripts(redis)).toBe(first);
    expect(define.mock.calls.map(([name]) => name).sort()).toEqual(Object.keys(SCRIPTS).sort());
    const other = new Redis({ lazyConnect: true });
    expect(redisScripts(other)).not.toBe(first);
    redis.disconnect();
    other.disconnect();
  });
});
