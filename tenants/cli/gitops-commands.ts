// `export` and `apply` of tenants as YAML, for operators who keep tenants in git. `apply` validates
// the whole file first, shows the diff, and writes only with `--yes` (tenants/control-plane/apply.ts).
import { readFile, writeFile } from 'node:fs/promises';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import { formatChanges } from '../../kernel/registry/config-diff.ts';
import { applyPlan, parseTenantsYaml, pendingOf, planApply } from '../control-plane/apply.ts';
import { exportTenants } from '../control-plane/export.ts';
import { withContext } from './cli-context.ts';
import { parse, tenantIdOption, UsageError, type Command } from './command-kit.ts';

export const exportCommand: Command = {
  summary: 'write tenants as YAML (all, or the ids given) to stdout or --out FILE',
  usage: 'bulkhead export [<tenant-id>...] [--out FILE]',
  async run(args) {
    const { values, positionals } = parse(args, { out: { type: 'string' } });
    const ids = positionals.map((id) => tenantIdOption(id));
    const { count, yaml } = await withContext((ctx) => exportTenants(ctx, ids));
    const out = values.out;
    if (out) {
      await atPath({ option: '--out', path: out, verb: 'write' }, () => writeFile(out, yaml));
      console.log(`wrote ${count} tenant(s) to ${out}`);
    } else process.stdout.write(yaml);
  },
};

export const apply: Command = {
  summary: 'apply tenants from a YAML file: shows the diff, writes only with --yes',
  usage: 'bulkhead apply -f|--file FILE [--yes]',
  async run(args) {
    const { values } = parse(
      args,
      {
        file: { type: 'string', short: 'f' },
        yes: { type: 'boolean', default: false },
      },
      { positionals: false },
    );
    const source = values.file;
    if (!source) throw new UsageError('apply needs -f FILE');
    const text = await atPath({ option: '-f', path: source, verb: 'read' }, () => readFile(source, 'utf8'));
    const configs = parseTenantsYaml(text, source);
    await withContext(async (ctx) => {
      const plan = await planApply(ctx, configs);
      for (const p of plan) {
        if (!p.current) console.log(`+ ${p.config.id}: new tenant (its runtime starts on its first call)`);
        else if (p.changes.length === 0)
          console.log(`= ${p.config.id}: unchanged (generation ${p.current.generation})`);
        else {
          console.log(`~ ${p.config.id}: generation ${p.current.generation} -> ${p.current.generation + 1}`);
          for (const line of formatChanges(p.changes)) console.log(line);
        }
      }
      const pending = pendingOf(plan);
      if (pending.length === 0) {
        console.log('nothing to apply');
        return;
      }
      if (!values.yes) {
        console.log(`${pending.length} tenant(s) would change; nothing written. Re-run with --yes to apply.`);
        return;
      }
      await applyPlan(ctx, plan, {
        reason: `apply ${source}`,
        said: (id, line) => console.log(`${id}: ${line}`),
        applied: (id, { prepared }) =>
          console.log(
            `applied ${id}${prepared ? ' (new: the supervisor readies its image and volume in the background)' : ''}`,
          ),
      });
    });
  },
};
