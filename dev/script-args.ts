// The command line of the repository's scripts (the benchmarks under test/bench, the generators under
// dev/docs): node:util's parseArgs, plus `--help` (or `-h`), which prints the script's own header
// comment (its usage and what it does), and a wrong option answered in one line with exit code 2
// instead of a stack trace.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A script's header: its leading `//` lines, without the slashes. */
export function usageOf(file: string): string {
  const header: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('//')) break;
    header.push(line.replace(/^\/\/ ?/, ''));
  }
  return header.join('\n');
}

/** A value the options parsed but the script refuses: one line and exit code 2, as a wrong option. */
export function badArgument(message: string): never {
  process.stderr.write(`${message}\nRun with --help for the usage.\n`);
  process.exit(2);
}

/** `parseArgs(config)` for the script at `file` (its `import.meta.filename`). */
export function scriptArgs<T extends ParseArgsConfig>(
  file: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  const help = process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h');
  if (help) {
    process.stdout.write(`${usageOf(file)}\n`);
    process.exit(0);
  }
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    badArgument((error as Error).message);
  }
  refuseNonNumbers(config, parsed.values);
  return parsed;
}

const NUMBER = /^\d+(\.\d+)?$/;

/**
 * An option whose default is a number takes a number: anything else would become NaN, and a
 * benchmark would run (a stack started, minutes spent) and print NaN figures instead of refusing.
 */
function refuseNonNumbers(config: ParseArgsConfig, values: Record<string, unknown>): void {
  for (const [name, option] of Object.entries(config.options ?? {})) {
    if (typeof option.default !== 'string' || !NUMBER.test(option.default)) continue;
    const value = values[name];
    if (typeof value === 'string' && !NUMBER.test(value))
      badArgument(`--${name} takes a number (default ${option.default}), not "${value}"`);
  }
}
