// Writes the reference pack's precompiled output validators (reference-validators.ts) to a file;
// runtime-image/build.sh runs it, bundled, on the build host.
//   reference-validators-cli <out.cjs>
import { writeFileSync } from 'node:fs';
import { referenceValidatorsSource } from './reference-validators.ts';

const out = process.argv[2];
if (!out) throw new Error('usage: reference-validators-cli <out.cjs>');
writeFileSync(out, referenceValidatorsSource());
