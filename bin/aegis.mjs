#!/usr/bin/env node
// The `aegis` command. In a source checkout it runs the TypeScript sources through tsx; in the
// Docker image, which ships only the compiled dist/ (`npm run build`), it runs those.
import { existsSync } from 'node:fs';

// fsync and file reads run on libuv's thread pool: with the default 4 threads, concurrent STOW
// fsyncs queue behind each other. Must be set before the pool first starts.
process.env.UV_THREADPOOL_SIZE ??= '16';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../gateway/cli/main.ts', import.meta.url));
let entry;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = pathToFileURL(source).href;
} else {
  entry = new URL('../dist/gateway/cli/main.js', import.meta.url).href;
}
const { main } = await import(entry);
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
