// What every process entry (router, supervisor, dev IdP) does the same way: configuration from the
// environment through a zod schema, `--help`, and a clean stop on SIGTERM/SIGINT.
import { z } from 'zod';
import type { ConfigFields, ConfigOf, ProcessConfig } from '../config/define-config.ts';
import { isBulkheadError } from '../errors/bulkhead-error.ts';

/**
 * The process's configuration from its declaration (kernel/config/define-config.ts), or undefined
 * when `--help` was asked for (the generated usage printed). An invalid environment prints what is
 * wrong and the usage, and exits with code 2; so does any other argument, which no process takes:
 * `--port 9000` would otherwise start one on the port its environment names, saying nothing.
 */
export function loadConfig<F extends ConfigFields>(config: ProcessConfig<F>): ConfigOf<F> | undefined {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(config.usage());
    return undefined;
  }
  if (args.length > 0) {
    console.error(
      `${config.title}: takes no arguments, only its environment (--help lists it), not: ${args.join(' ')}`,
    );
    process.exit(2);
  }
  try {
    return config.fromEnv(process.env);
  } catch (error) {
    return exitOnInvalidConfig(config)(error);
  }
}

/**
 * For a process's start: a configuration refused (`invalid_config`: the environment, or what the
 * start checks, such as files the settings name and settings that need one another) prints why and
 * the usage and exits with code 2, as an invalid environment does; any other error is thrown on.
 */
export function exitOnInvalidConfig(config: { usage(): string }): (error: unknown) => never {
  return (error) => {
    if (!isBulkheadError(error, 'invalid_config')) throw error;
    console.error(`${error.message}\n\n${config.usage()}`);
    process.exit(2);
  };
}

/** On SIGTERM or SIGINT: close, then exit 0 (or 1 when closing failed). */
export function stopOnSignals(close: () => Promise<void>, onSignal?: (signal: NodeJS.Signals) => void): void {
  const stop = (signal: NodeJS.Signals): void => {
    onSignal?.(signal);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** An environment variable holding a JSON list (default `[]`), each item checked by `item`. */
export function jsonListEnv<T extends z.ZodType>(item: T) {
  return z
    .string()
    .default('[]')
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON list' });
        return z.NEVER;
      }
    })
    .pipe(z.array(item));
}
