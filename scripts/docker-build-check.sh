#!/usr/bin/env bash
# Runs the Dockerfile's build steps without a Docker engine: a clean copy of what the image
# copies, `npm ci`, `npm run build`, `npm prune --omit=dev`, then the image's layout (dist, bin,
# production node_modules, no sources) started with the image's command, checked on /healthz and
# with the image's HEALTHCHECK command on a port other than 8080, a STOW/WADO round trip and the
# conformance suite, and stopped by PID. Before that, the image's NODE_ENV=production start without
# a master key must be refused, creating nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/build" "$work/image"
cd "$root"
cp package.json package-lock.json tsconfig.json tsconfig.build.json "$work/build/"
cp -r gateway adapters conformance "$work/build/"
cd "$work/build"
# Reuse the checkout's compiled native addons (better-sqlite3, @ronomon/reed-solomon) instead of
# compiling them a second time (the Dockerfile's npm ci runs their install scripts).
# The checkout's node_modules may be a symlink (git worktrees share one folder): copy what it holds,
# never the link itself, or the npm ci and npm prune below would empty and prune the shared folder.
mkdir node_modules
cp -a "$root/node_modules/." node_modules/
[ ! -L node_modules ] || { echo "node_modules of the build copy must not be a symlink" >&2; exit 1; }
npm ci --no-audit --no-fund --offline --ignore-scripts >/dev/null 2>&1 || npm ci --no-audit --no-fund >/dev/null
cp -a "$root/node_modules/better-sqlite3/build" node_modules/better-sqlite3/ 2>/dev/null || npm rebuild better-sqlite3 >/dev/null
cp -a "$root/node_modules/@ronomon/reed-solomon/binding.node" node_modules/@ronomon/reed-solomon/ 2>/dev/null || npm rebuild @ronomon/reed-solomon >/dev/null
npm run build >/dev/null
npm prune --omit=dev --no-audit --no-fund >/dev/null

cp -a node_modules dist package.json "$work/image/"
cp -r "$root/bin" "$work/image/"
cd "$work/image"
[ ! -e gateway ] || { echo "the image must not ship sources" >&2; exit 1; }
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
# Production never runs on a development key: without AEGIS_MASTER_KEY the start is refused.
if NODE_ENV=production AEGIS_HOST=127.0.0.1 AEGIS_PORT="$port" AEGIS_DATA_DIR="$work/data" node bin/aegis.mjs start >"$work/refused" 2>&1; then
  cat "$work/refused"; echo "NODE_ENV=production without a master key started" >&2; exit 1
fi
grep -q "NODE_ENV is production and no master key is configured" "$work/refused" || { cat "$work/refused"; echo "the refusal does not say why" >&2; exit 1; }
[ ! -e "$work/data" ] || { echo "the refused start created $work/data" >&2; exit 1; }
master_key=$(openssl rand -base64 32)
NODE_ENV=production AEGIS_MASTER_KEY="$master_key" AEGIS_MASTER_KEY_ID=docker1 AEGIS_HOST=127.0.0.1 AEGIS_PORT="$port" AEGIS_DATA_DIR="$work/data" node bin/aegis.mjs start >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; echo "the built gateway exited" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/log"; exit 1; }
# The Dockerfile's HEALTHCHECK command, as the image runs it (exec form, from /app), follows AEGIS_PORT.
healthcheck=$(node -e "const l=require('fs').readFileSync('$root/Dockerfile','utf8').match(/^HEALTHCHECK CMD (\[.*\])\$/m); if(!l) process.exit(1); console.log(JSON.parse(l[1]).join('\n'))") \
  || { echo "the Dockerfile's HEALTHCHECK is not in exec form" >&2; exit 1; }
mapfile -t healthcheck_argv <<<"$healthcheck"
AEGIS_HOST=0.0.0.0 AEGIS_PORT="$port" "${healthcheck_argv[@]}" >/dev/null || { cat "$work/log"; echo "the image's HEALTHCHECK failed on port $port" >&2; exit 1; }
# Secure by default: without credentials nothing is served; the first admin's password is in DATA.
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/dicom-web/studies")
[ "$status" = 401 ] || { echo "QIDO without credentials answered $status, not 401" >&2; exit 1; }
auth="admin:$(cat "$work/data/admin-password")"
sample=/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm
{ printf -- '--b0\r\nContent-Type: application/dicom\r\n\r\n'; cat "$sample"; printf -- '\r\n--b0--\r\n'; } > "$work/body"
status=$(curl -s -u "$auth" -o "$work/stow.json" -w '%{http_code}' -X POST -H 'Content-Type: multipart/related; type="application/dicom"; boundary=b0' --data-binary @"$work/body" "http://127.0.0.1:$port/dicom-web/studies")
[ "$status" = 200 ] || { cat "$work/stow.json" "$work/log"; echo "STOW answered $status" >&2; exit 1; }
url=$(node -e "const j=require('$work/stow.json');console.log(j['00081199'].Value[0]['00081190'].Value[0])")
curl -sf -u "$auth" -H 'Accept: application/dicom' "$url" -o "$work/back.dcm"
cmp "$sample" "$work/back.dcm"
# Rendering loads native pieces at run time (sharp's libvips, dcmjs-imaging's WebAssembly decoders).
curl -sf -u "$auth" -H 'Accept: image/png' "$url/rendered?window=100,1000,linear" -o "$work/rendered.png"
[ "$(head -c 4 "$work/rendered.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] || { cat "$work/log"; echo "/rendered did not answer a PNG" >&2; exit 1; }
# The image's aegis runs the conformance suite (compiled, production dependencies only).
node bin/aegis.mjs conformance --base-url "http://127.0.0.1:$port/dicom-web" --header "Authorization: Basic $(printf %s "$auth" | base64 -w0)" >"$work/conformance.txt" 2>&1 \
  || { cat "$work/conformance.txt"; echo "aegis conformance failed against the built image" >&2; exit 1; }
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "docker recipe: built, refused without a master key in production, started from dist without sources, HEALTHCHECK on port $port, 401 without credentials, STOW/WADO round trip byte-identical as the first admin, /rendered a PNG, aegis conformance passed"
