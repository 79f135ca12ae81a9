#!/usr/bin/env node
// The `aegis` command. Runs the compiled gateway (dist/, from `npm run build`, as in the Docker
// image) when it is at least as new as every source file; otherwise the TypeScript sources
// through tsx, so that a checkout always runs what it holds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// fsync and file reads run on libuv's thread pool: with the default 4 threads, concurrent STOW
// fsyncs queue behind each other. Must be set before the pool first starts.
process.env.UV_THREADPOOL_SIZE ??= '16';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist/gateway/cli/main.js');
const sources = ['gateway', 'adapters', 'conformance'].map((d) => join(root, d)).filter((d) => existsSync(d));

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let entry;
if (existsSync(compiled) && sources.every((d) => newestSource(d) <= statSync(compiled).mtimeMs)) {
  entry = pathToFileURL(compiled).href;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = pathToFileURL(join(root, 'gateway/cli/main.ts')).href;
}
/**
 * Exits once stdout and stderr have taken everything written to them. process.exit() alone cuts a
 * long report short when stdout is a pipe: Node 24 writes to pipes asynchronously (a scrub report
 * of 150 kB arrived truncated at 146,176 bytes).
 */
function exit(code) {
  let open = 2;
  const done = () => --open === 0 && process.exit(code);
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0) done();
    else stream.write('', done);
  }
}

const { main } = await import(entry);
main(process.argv.slice(2)).then(exit, (error) => {
  console.error(error instanceof Error ? error.stack : error);
  exit(1);
});
