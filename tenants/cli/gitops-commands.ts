// `export` and `apply` of tenants as YAML, for operators who keep tenants in git. `apply` parses and
// validates the whole file first (schema and manifest), shows the diff, and writes only with
// `--yes`; each change is applied on top of the generation the diff was computed from, so a change
// made by someone else in between is a conflict, not a silent overwrite.
import { readFile, writeFile } from 'node:fs/promises';
import { parse as parseYaml, stringify, YAMLParseError } from 'yaml';
import { z } from 'zod';
import {
  assertAgainstManifest,
  configOf,
  TenantConfigFileSchema,
  type TenantConfig,
  type TenantConfigFile,
} from '../../kernel/tenant/tenant-config.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { diffValues, formatChanges, type FieldChange } from '../../kernel/registry/config-diff.ts';
import { openContext, UsageError } from './cli-context.ts';
import { parse, type Command } from './command-kit.ts';

export const exportCommand: Command = {
  summary: 'write tenants as YAML (all, or the ids given) to stdout or --out FILE',
  usage: 'bulkhead export [<tenant-id>...] [--out FILE]',
  async run(args) {
    const { values, positionals } = parse(args, { out: { type: 'string' } });
    const ctx = await openContext();
    try {
      const all = positionals.length
        ? await Promise.all(positionals.map((id) => ctx.registry.require(id)))
        : await ctx.registry.list();
      const file: TenantConfigFile = { apiVersion: 'bulkhead/v1', tenants: all.map(configOf) };
      const text = `# Bulkhead tenants, exported ${new Date().toISOString()}\n${stringify(file)}`;
      if (values.out) {
        await writeFile(values.out, text);
        console.log(`wrote ${all.length} tenant(s) to ${values.out}`);
      } else process.stdout.write(text);
    } finally {
      await ctx.close();
    }
  },
};

export class ApplyInputError extends Error {
  readonly code = 'invalid_input';
}

/** Parses and validates a tenants YAML document; nothing is written when this throws. */
export function parseTenantsYaml(text: string, source: string): TenantConfig[] {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLParseError)
      throw new ApplyInputError(`${source}: malformed YAML: ${error.message}`);
    throw error;
  }
  const parsed = TenantConfigFileSchema.safeParse(document);
  if (!parsed.success) throw new ApplyInputError(`${source}: ${z.prettifyError(parsed.error)}`);
  const ids = parsed.data.tenants.map((t) => t.id);
  const duplicate = ids.find((id, index) => ids.indexOf(id) !== index);
  if (duplicate) throw new ApplyInputError(`${source}: tenant "${duplicate}" appears twice`);
  for (const tenant of parsed.data.tenants) assertAgainstManifest(tenant);
  return parsed.data.tenants;
}

interface PlannedChange {
  config: TenantConfig;
  current: TenantRecord | undefined;
  changes: FieldChange[];
}

export const apply: Command = {
  summary: 'apply tenants from a YAML file: shows the diff, writes only with --yes',
  usage: 'bulkhead apply -f FILE [--yes]',
  async run(args) {
    const { values } = parse(args, {
      file: { type: 'string', short: 'f' },
      yes: { type: 'boolean', default: false },
    });
    if (!values.file) throw new UsageError('apply needs -f FILE');
    let text: string;
    try {
      text = await readFile(values.file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${values.file}: ${(error as Error).message}`);
    }
    const configs = parseTenantsYaml(text, values.file);
    const ctx = await openContext();
    try {
      const plan: PlannedChange[] = [];
      for (const config of configs) {
        const current = await ctx.registry.get(config.id);
        const changes = current ? diffValues(configOf(current), config) : diffValues({}, config);
        plan.push({ config, current, changes });
      }
      const pending = plan.filter((p) => p.changes.length > 0);
      for (const p of plan) {
        if (!p.current) console.log(`+ ${p.config.id}: new tenant (its runtime starts on its first call)`);
        else if (p.changes.length === 0)
          console.log(`= ${p.config.id}: unchanged (generation ${p.current.generation})`);
        else {
          console.log(`~ ${p.config.id}: generation ${p.current.generation} -> ${p.current.generation + 1}`);
          for (const line of formatChanges(p.changes)) console.log(line);
        }
      }
      if (pending.length === 0) {
        console.log('nothing to apply');
        return;
      }
      if (!values.yes) {
        console.log(`${pending.length} tenant(s) would change; nothing written. Re-run with --yes to apply.`);
        return;
      }
      const author = { actor: ctx.actor, reason: `apply ${values.file}` };
      for (const p of pending) {
        const { id, ...rest } = p.config;
        if (!p.current) await ctx.registry.create({ id, ...rest }, author);
        else
          await ctx.registry.update(id, {
            expectedGeneration: p.current.generation,
            changes: rest,
            author,
          });
        console.log(`applied ${id}`);
      }
    } finally {
      await ctx.close();
    }
  },
};
