// Generates docs/configuration.md from the configuration declarations (kernel/config/define-config.ts),
// so the reference, each process's --help and the code cannot disagree:
//   node dev/docs/config-reference.ts          print the reference
//   node dev/docs/config-reference.ts --write  write docs/configuration.md
// test/unit/config-reference.test.ts fails when docs/configuration.md differs from what this prints.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { idempotencyWindowMs, logLevel, namespace, redisUrl, runDir } from '../../kernel/config/common.ts';
import { egressConfig } from '../../egress/config.ts';
import { routerConfig } from '../../router/config.ts';
import { supervisorConfig } from '../../supervisor/config.ts';
import { cliConfig } from '../../tenants/cli/config.ts';
import { runtimeConfig } from '../../runtime-image/src/config.ts';
import { consoleConfig } from '../../console/config.ts';
import { devIdpConfig } from '../idp/config.ts';
import { defineConfig, type ProcessConfig, type ConfigFields } from '../../kernel/config/define-config.ts';
import { scriptArgs } from '../script-args.ts';

export const CONFIG_REFERENCE_PATH = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

/** The fields more than one process reads, listed once. */
const shared = defineConfig(
  {
    title: 'Shared by several processes',
    summary: 'Each of these means the same, with the same default, in every process whose --help lists it.',
  },
  { redisUrl, namespace, logLevel, idempotencyWindowMs, runDir },
);

export const PROCESS_CONFIGS: readonly ProcessConfig<ConfigFields>[] = [
  shared,
  routerConfig,
  supervisorConfig,
  cliConfig,
  consoleConfig,
  runtimeConfig,
  egressConfig,
  devIdpConfig,
];

export function renderConfigReference(): string {
  return `# Configuration

Every environment variable each process reads, with its default, generated from the declarations in
the code by \`node dev/docs/config-reference.ts --write\` (each process prints the same with
\`--help\`; the processes other than the CLI take no other argument and refuse one with exit code 2).
An invalid value stops the process at start with the variable's name and exit code 2.

${PROCESS_CONFIGS.map((config) => config.markdown()).join('\n')}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = scriptArgs(import.meta.filename, { options: { write: { type: 'boolean' } } });
  const text = renderConfigReference();
  if (values.write) writeFileSync(CONFIG_REFERENCE_PATH, text);
  else process.stdout.write(text);
}
