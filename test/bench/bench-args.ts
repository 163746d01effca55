// The command line of every benchmark script: dev/script-args.ts's, under the name the scripts (and
// test/integration/bench-help.test.ts, which finds them by it) call it, and the values several of
// them take.
import { badArgument } from '../../dev/script-args.ts';

export { badArgument, scriptArgs as benchArgs, usageOf } from '../../dev/script-args.ts';

/** `--isolation`: the runtime tier a benchmark's tenants run on, refused in one line if neither. */
export function isolationArg(value: string): 'runc' | 'gvisor' {
  if (value !== 'runc' && value !== 'gvisor') badArgument(`--isolation takes runc or gvisor, not "${value}"`);
  return value;
}
