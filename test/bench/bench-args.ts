// The command line of every benchmark script: dev/script-args.ts's, under the name the scripts (and
// test/integration/bench-help.test.ts, which finds them by it) call it.
export { badArgument, scriptArgs as benchArgs, usageOf } from '../../dev/script-args.ts';
