#!/usr/bin/env bash
# One command from a fresh Debian / Raspberry Pi OS checkout to a running demo
# node: installs what is missing, initialises a data dir on embedded defaults
# (SQLite, self-signed TLS; high ports unless run as root), creates two demo
# accounts with their Delta Chat QR codes, and runs the node in the foreground.
#
#   ./quickstart.sh                 # data in ./demo-data (or /var/lib/outpost as root)
#   DOMAIN=camp.example ./quickstart.sh
set -euo pipefail
cd "$(dirname "$0")"

DOMAIN=${DOMAIN:-outpost.test}
if [ "$(id -u)" = 0 ]; then DATA=${OUTPOST_DATA:-/var/lib/outpost}; else DATA=${OUTPOST_DATA:-$PWD/demo-data}; fi

need_pkgs=()
for p in dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  need_pkgs+=(nodejs npm)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Outpost needs: ${need_pkgs[*]}. Install them with:" >&2
    echo "  sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}"
fi

[ -d node_modules ] && [ -f dist/server/cli/main.js ] || npm ci

outpost() { node bin/outpost.mjs "$@" --data "$DATA"; }

if [ ! -f "$DATA/outpost.toml" ]; then
  outpost init --domain "$DOMAIN"
  outpost account add "alice@$DOMAIN" >/dev/null
  outpost account add "bob@$DOMAIN" >/dev/null
  echo
  echo "Two demo accounts were created. Scan one QR code per phone with Delta Chat"
  echo "(phone on the same network; \"Add account\" → \"Scan QR code\"):"
  for who in alice bob; do
    echo
    echo "== $who@$DOMAIN =="
    outpost account qr "$who@$DOMAIN"
  done
  echo
fi
echo "Add more people with:  node bin/outpost.mjs account add NAME --data $DATA"
echo "                       node bin/outpost.mjs account qr NAME@$DOMAIN --data $DATA"
# Until the web admin has a password, claiming it takes this code, so that
# nobody else on the network can set the password first. Exits 1, quietly,
# once the box is claimed.
if code=$(outpost admin setup-code 2>/dev/null); then
  echo "Web admin setup code: $code  (the web admin's first visit asks for it; node bin/outpost.mjs admin setup-code --data $DATA shows it again)"
fi
# The same V8 flags as the systemd unit (server/node/v8-flags.ts says why).
exec node --max-semi-space-size=2 bin/outpost.mjs start --data "$DATA"
