#!/usr/bin/env bash
# Installs relaymesh and @relaymesh/client as a user would: `npm pack` both, install the
# tarballs into fresh projects outside the repo, and run apps against real brokers on 127.0.0.1:
#   esm-app  plain JS ESM: embeds a broker, connects relaymesh/client; `npx relaymesh start --help`
#   cjs-app  CommonJS with only @relaymesh/client (installed size checked): two devices on a CLI broker
#   ts-app   strict TypeScript (NodeNext, exactOptionalPropertyTypes, no skipLibCheck): the README's
#            SDK and embed examples as written (port changed to a free one) and a typed exchange
# Prints package sizes. Exit status non-zero on the first failure.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
apps="$repo/.ci/package-apps"
work="$(mktemp -d /tmp/relaymesh-package-XXXXXX)"
broker_pid=""
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
install() { npm install --no-audit --no-fund --loglevel=error "$@" >/dev/null; }
step() { echo "package check: $*"; }

cd "$repo"
npm pack --pack-destination "$work" --loglevel=error >/dev/null
npm pack -w @relaymesh/client --pack-destination "$work" --loglevel=error >/dev/null
server_tgz="$(ls "$work"/relaymesh-[0-9]*.tgz)"
client_tgz="$(ls "$work"/relaymesh-client-*.tgz)"

step "esm-app (relaymesh + relaymesh/client, plain JS)"
mkdir "$work/esm-app" && cd "$work/esm-app"
echo '{ "name": "esm-app", "private": true, "type": "module" }' > package.json
install "$server_tgz" "$client_tgz"
cp "$apps/exchange.mjs" .
PORT="$(free_port)" timeout 120 node exchange.mjs
timeout 60 npx relaymesh start --help | grep -q -- '--config <file>'
step "npx relaymesh start --help: ok; version $(npx relaymesh --version)"

step "cjs-app (@relaymesh/client only) against \`relaymesh start\`"
port="$(free_port)"
node node_modules/.bin/relaymesh start --host 127.0.0.1 --port "$port" --data-dir "$work/cli-data" --log-level warn &
broker_pid=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
mkdir "$work/cjs-app" && cd "$work/cjs-app"
echo '{ "name": "cjs-app", "private": true }' > package.json
install "$client_tgz"
cp "$apps/exchange.cjs" .
PORT="$port" timeout 120 node exchange.cjs
client_kb="$(du -sk node_modules | cut -f1)"

step "ts-app (strict TypeScript, NodeNext): README examples and a typed exchange"
mkdir "$work/ts-app" && cd "$work/ts-app"
echo '{ "name": "ts-app", "private": true, "type": "module" }' > package.json
install "$server_tgz" "$client_tgz" @types/node@20
cp "$apps/exchange.ts" "$apps/tsconfig.json" .
PORT="$port" node "$apps/readme-examples.mjs" "$repo/README.md" "$port" "$(free_port)"
node "$repo/node_modules/typescript/bin/tsc" -p .
PORT="$port" timeout 120 node build/readme-sdk.js
timeout 120 node build/readme-embed.js
PORT="$(free_port)" timeout 120 node build/exchange.js
kill "$broker_pid"; wait "$broker_pid" || true; broker_pid=""

step "sizes: relaymesh tarball $(( $(stat -c %s "$server_tgz") / 1024 )) KB, @relaymesh/client tarball $(( $(stat -c %s "$client_tgz") / 1024 )) KB, client app node_modules ${client_kb} KB installed"
if [ "$client_kb" -gt 5120 ]; then echo "package check: a Node client installs more than 5 MB"; exit 1; fi
step "ok"
