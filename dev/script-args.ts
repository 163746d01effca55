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
  try {
    return parseArgs(config);
  } catch (error) {
    badArgument((error as Error).message);
  }
}
