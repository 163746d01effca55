// A tree deeper than the path limit, built as a process inside a tenant's container could: chdir
// step by step, each path it uses short (a shell's `cd` keeps a full path, and fails past the limit).

/** Node code for `node -e`: 300 levels of 20-character names under argv[1], 6,300 characters. */
export const DEEP_TREE_SCRIPT = `const fs = require('node:fs'); process.chdir(process.argv[1]);
for (let i = 0; i < 300; i++) { fs.mkdirSync('d'.repeat(20)); process.chdir('d'.repeat(20)); }
console.log('planted');`;
