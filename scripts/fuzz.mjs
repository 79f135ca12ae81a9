#!/usr/bin/env node
// The nightly-style fuzz run (`npm run fuzz`): the fuzz targets of test/fuzz with many more cases
// than CI's 10,000 each, and a fresh seed unless one is given. Arguments (all optional):
//   --runs=N     cases per target (default 1,000,000; AEGIS_FUZZ_RUNS also works)
//   --seed=N     fast-check seed (default: a random one, printed first so a failure reproduces)
//   FILES        fuzz test files or folders (default: test/fuzz)
// A failure prints fast-check's report: the seed, the path and the shrunk input. Keep an input
// that found a defect in test/fuzz/regressions/ with its fix.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const runs = option('runs') ?? process.env.AEGIS_FUZZ_RUNS ?? '1000000';
const seed = option('seed') ?? process.env.AEGIS_FUZZ_SEED ?? String(randomInt(1, 2 ** 31 - 1));
const targets = args.filter((a) => !a.startsWith('--'));

console.log(`fuzzing with AEGIS_FUZZ_RUNS=${runs} AEGIS_FUZZ_SEED=${seed}`);
const result = spawnSync(process.execPath, [`${root}scripts/run-tests.mjs`, ...(targets.length ? targets : ['fuzz'])], {
  cwd: process.env.INIT_CWD ?? process.cwd(),
  stdio: 'inherit',
  env: { ...process.env, AEGIS_FUZZ_RUNS: runs, AEGIS_FUZZ_SEED: seed },
});
process.exit(result.status ?? 1);
