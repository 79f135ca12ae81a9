#!/usr/bin/env node
// Runs the test files of the named suites (unit, contract, integration, interop; default: all)
// with Node's own test runner, TypeScript loaded through tsx. Exits with the runner's status.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const suites = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
const dirs = (suites.length ? suites : ['unit', 'integration', 'interop']).map((s) => join(root, 'test', s));

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

const files = dirs.flatMap((d) => findTests(d));
if (files.length === 0) {
  console.error('no test files found in', dirs.join(', '));
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...passThrough, ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
