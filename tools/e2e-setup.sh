#!/usr/bin/env bash
# Installs code-server (VS Code's workbench over HTTP, extension host in Node) for the end-to-end
# tests in real VS Code (test/e2e), into .e2e-cache/ (gitignored). Idempotent: once the stamp
# file is there, re-running does nothing. First run: about 3 minutes and 320 MB.
#
# Why by hand: code-server's own postinstall downloads things (ripgrep, ...) and fails offline,
# so its steps are done here with --ignore-scripts and rebuilds (see
# docs "Real VS Code in a real browser: code-server + Chromium + Playwright"). 4.100.3 (VS Code
# 1.100.3) is the newest code-server that runs on Node 20.
#
# Needs: Node 20, and the Debian packages chromium libkrb5-dev pkg-config ripgrep (.ci/run
# installs them; libkrb5-dev and pkg-config for the kerberos module's build, ripgrep for search).
# Prints the code-server entry point (the file to run with node) as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.100.3
CACHE="$PWD/.e2e-cache"
DIR="$CACHE/code-server-$VERSION"
STAMP="$DIR/.installed"
ENTRY="$DIR/node_modules/code-server/out/node/entry.js"

if [ -f "$STAMP" ] && [ -f "$ENTRY" ]; then
  echo "$ENTRY"
  exit 0
fi

for tool in rg pkg-config; do
  command -v "$tool" >/dev/null || { echo "e2e-setup: $tool is missing: apt-get install -y chromium libkrb5-dev pkg-config ripgrep" >&2; exit 1; }
done
[ -x /usr/bin/chromium ] || { echo "e2e-setup: /usr/bin/chromium is missing: apt-get install -y chromium" >&2; exit 1; }

started=$(date +%s)
step() { echo "e2e-setup: [$(( $(date +%s) - started ))s] $*" >&2; }

# A half-finished earlier attempt is thrown away: every step below starts from nothing.
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR"
# Its own package.json, so npm installs here and not into the project above.
echo '{ "name": "cpml-e2e-code-server", "private": true }' > package.json

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_loglevel=error

step "npm install code-server@$VERSION (scripts off)"
npm install --ignore-scripts --no-save "code-server@$VERSION" >&2

VSCODE="$DIR/node_modules/code-server/lib/vscode"
cd "$VSCODE"
step "VS Code's production dependencies"
npm install --omit=dev --ignore-scripts >&2
step "rebuilding VS Code's native modules"
npm_config_yes=true npm rebuild node-pty @parcel/watcher @vscode/spdlog native-watchdog @vscode/deviceid >&2
# @vscode/ripgrep's install script downloads rg from GitHub: use Debian's.
mkdir -p node_modules/@vscode/ripgrep/bin
cp /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
# The server looks modules up in node_modules.asar (as the desktop app packs them).
ln -sfn node_modules node_modules.asar

cd "$VSCODE/extensions"
step "built-in extensions' dependencies"
npm install --omit=dev --ignore-scripts >&2

cd "$DIR"
step "rebuilding argon2"
npm rebuild argon2 >&2

[ -f "$ENTRY" ] || { echo "e2e-setup: $ENTRY is missing after the install" >&2; exit 1; }
date -u +%FT%TZ > "$STAMP"
step "done"
echo "$ENTRY"
