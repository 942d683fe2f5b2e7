#!/usr/bin/env bash
# One command from a fresh Debian 13 "trixie" / Raspberry Pi OS checkout to a
# running demo node: installs what is missing from Debian, installs the npm
# packages and builds, initialises a data dir on embedded defaults (SQLite,
# self-signed TLS; high ports unless run as root), creates two demo accounts
# with their Delta Chat QR codes, and runs the node in the foreground.
#
#   ./quickstart.sh                 # data in ./demo-data (or /var/lib/outpost as root)
#   DOMAIN=camp.example ./quickstart.sh
set -euo pipefail
cd "$(dirname "$0")"

DOMAIN=${DOMAIN:-outpost.test}
if [ "$(id -u)" = 0 ]; then DATA=${OUTPOST_DATA:-/var/lib/outpost}; else DATA=${OUTPOST_DATA:-$PWD/demo-data}; fi
NODE_FLOOR=20.19

# True when the version in $1 (like 20.19.2, v20.19.2 or 20.19.2+dfsg-1) is at least $NODE_FLOOR.
node_ok() { printf '%s\n' "$NODE_FLOOR" "${1#v}" | sort -V -C; }

apt_get() {
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get "$@"
  elif command -v sudo >/dev/null; then sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    echo "Outpost needs Debian packages installed as root. Run as root:" >&2
    echo "  apt-get $*" >&2
    exit 1
  fi
}

# Dovecot (IMAP, LMTP and the SQLite account lookup) and openssl for the
# node's certificate. Recommends are left out: a Pi has no room to spare.
updated=
apt_update() { [ -n "$updated" ] || apt_get update -q; updated=1; }

# dovecot-dev, gcc and libc6-dev (which gcc only recommends) build the
# outpost_push plugin, which pushes new mail to phones at once instead of
# after Dovecot's built-in 0.5 s wait.
need_pkgs=()
for p in dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite dovecot-dev libc6-dev openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if ! command -v node >/dev/null || ! node_ok "$(node -v)"; then
  # Only a Node.js that Outpost accepts is installed: Debian 13 and Raspberry
  # Pi OS ship 20.19; Debian 12 ships 18, which Outpost cannot run on.
  apt_update
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ] || ! node_ok "$candidate"; then
    . /etc/os-release 2>/dev/null || true
    echo "Outpost needs Node.js $NODE_FLOOR or newer; this system (${PRETTY_NAME:-unknown}) has $(node -v 2>/dev/null || echo none) and its packages offer ${candidate:-none}." >&2
    echo "Outpost is made for Debian 13 \"trixie\" and the Raspberry Pi OS based on it, whose Node.js is new enough." >&2
    echo "On Debian 12, install Node.js 20.19 or newer from NodeSource's packages first, then run ./quickstart.sh again." >&2
    exit 1
  fi
  need_pkgs+=(nodejs)
fi
# npm, and what it needs to build better-sqlite3 from source where no
# prebuilt binary can be downloaded (offline, or no build for this board).
command -v npm >/dev/null || need_pkgs+=(npm)
for p in make g++ gcc python3; do
  command -v "$p" >/dev/null || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "Installing from Debian: ${need_pkgs[*]}"
  apt_update
  apt_get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# npm ci installs the packages and builds Outpost (its prepare script).
# Errors only: a few packages declare Node 22 and work on 20.19, which the
# test suite checks (test/unit/build/engines.test.ts); npm's warnings about
# them would only alarm.
[ -d node_modules ] && [ -f dist/server/cli/main.js ] || npm ci --no-audit --no-fund --loglevel=error
# The Dovecot plugin, for the Dovecot installed now (npm ci builds it too;
# this covers a checkout built earlier, or a Dovecot upgraded since).
server/dovecot/push-plugin/build.sh

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
# The same V8 flags as the systemd unit (server/base/v8-flags.ts says why).
exec node --max-semi-space-size=2 --no-opt --no-sparkplug --max-lazy --optimize-for-size bin/outpost.mjs start --data "$DATA"
