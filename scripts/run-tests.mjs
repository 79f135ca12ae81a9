#!/usr/bin/env node
// Runs tests with Node's own test runner, TypeScript loaded through tsx; exits with the runner's
// status. Arguments:
//   suite names (unit, contract, integration, interop, fuzz), test files and folders, in any mix:
//   what to run (default: unit, integration, interop and fuzz); a folder runs every *.test.ts below it;
//   options starting with '-' go to `node --test` (e.g. --test-name-pattern=foo, --test-only);
//   --checks (what `npm test` passes): when nothing else is named, run `npm run typecheck` and
//   `npm run lint` first, and stop if either fails. `npm test -- FILE` runs just FILE.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// npm runs scripts in the package root; INIT_CWD is where `npm test -- FILE` was typed.
const here = process.env.INIT_CWD ?? process.cwd();
const SUITES = ['unit', 'contract', 'integration', 'interop', 'fuzz'];
const DEFAULT_SUITES = ['unit', 'integration', 'interop', 'fuzz'];

const args = process.argv.slice(2);
const checks = args.includes('--checks');
const targets = args.filter((a) => !a.startsWith('-'));
const passThrough = args.filter((a) => a.startsWith('-') && a !== '--checks');

function findTests(dir) {
  let out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'vendor') continue;
    if (statSync(path).isDirectory()) out = out.concat(findTests(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

/** The test files a target names: a suite, a folder or a file (relative to where npm was run, or to the root). */
function testsOf(target) {
  if (SUITES.includes(target)) return findTests(join(root, 'test', target));
  const path = [isAbsolute(target) ? target : resolve(here, target), resolve(root, target)].find((p) => existsSync(p));
  if (path === undefined) {
    console.error(`no such suite, file or folder: ${target} (suites: ${SUITES.join(', ')})`);
    process.exit(2);
  }
  return statSync(path).isDirectory() ? findTests(path) : [relative(root, path)];
}

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (checks && targets.length === 0 && passThrough.length === 0) {
  run('npm', ['run', '--silent', 'typecheck']);
  run('npm', ['run', '--silent', 'lint']);
}
const files = [...new Set((targets.length ? targets : DEFAULT_SUITES).flatMap(testsOf))];
if (files.length === 0) {
  console.error('no test files found in', (targets.length ? targets : DEFAULT_SUITES).join(', '));
  process.exit(1);
}
// Unit tests are short and CPU-bound: two files at a time (node --test runs one at a time on two
// cores). Integration, interop and fuzz tests start servers and measure timeouts: one at a time.
const unitDir = join('test', 'unit') + '/';
const concurrent = passThrough.some((a) => a.startsWith('--test-concurrency')) ? [] : files.filter((f) => f.startsWith(unitDir));
const batches = [
  { files: concurrent, options: ['--test-concurrency=2'] },
  { files: files.filter((f) => !concurrent.includes(f)), options: [] },
].filter((b) => b.files.length > 0);
let status = 0;
for (const batch of batches) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...batch.options, ...passThrough, ...batch.files], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
