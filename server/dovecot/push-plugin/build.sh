#!/usr/bin/env bash
# Builds the outpost_push Dovecot plugin for the Dovecot installed on this
# machine and puts it where `outpost start` looks for it:
#
#   dist/dovecot-plugins/<dovecot --version>/lib20_outpost_push_plugin.so
#
# One folder per exact Dovecot version (spaces and brackets turned into -),
# because Dovecot refuses a plugin built for another ABI, and refuses it
# hard: every IMAP login would fail. The node loads the plugin only from the
# folder of the version it runs, so a Dovecot upgrade falls back to stock
# push (and says so in the log) until this script is run again.
#
#   server/dovecot/push-plugin/build.sh [--quiet-if-unavailable] [DIST_DIR]
#
# Needs the packages dovecot-dev (its headers match dovecot-core's version
# exactly), gcc (or any cc), libc6-dev and make. --quiet-if-unavailable exits 0 with
# one line when they are missing, for the project build, which must work on
# a machine without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
optional=
if [ "${1:-}" = --quiet-if-unavailable ]; then optional=1; shift; fi
dist=${1:-$(cd "$here/../../.." && pwd)/dist}
config=/usr/lib/dovecot/dovecot-config

missing=()
command -v dovecot >/dev/null || missing+=(dovecot-core)
[ -f "$config" ] && [ -f /usr/include/dovecot/config.h ] || missing+=(dovecot-dev)
command -v "${CC:-cc}" >/dev/null || missing+=(gcc)
# gcc only recommends the C library's headers; apt --no-install-recommends leaves them out.
[ -f /usr/include/stdlib.h ] || missing+=(libc6-dev)
command -v make >/dev/null || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
  msg="outpost_push Dovecot plugin not built: install ${missing[*]} (apt-get install ${missing[*]}) and run $0; until then Dovecot pushes new mail after its usual 0.5 s"
  if [ -n "$optional" ]; then echo "$msg"; exit 0; fi
  echo "$msg" >&2; exit 1
fi

version=$(dovecot --version)
# The headers must be the running Dovecot's: config.h's DOVECOT_VERSION is
# "2.3.19.1" (2.4: "2.4.1"), and dovecot --version "2.3.19.1 (9b53102964)"
# (2.4: "2.4.1-4 (7d8c0e5759)").
headers=$(sed -n 's/^#define DOVECOT_VERSION "\(.*\)"$/\1/p' /usr/include/dovecot/config.h)
case "$version" in
  "$headers"|"$headers "*|"$headers-"*) ;;
  *) echo "dovecot-dev is for Dovecot ${headers:-unknown} but Dovecot $version is installed: install the dovecot-dev of the same version" >&2; exit 1 ;;
esac
key=$(printf '%s' "$version" | sed 's/[^A-Za-z0-9._-]\{1,\}/-/g; s/^-//; s/-$//')
dest="$dist/dovecot-plugins/$key"
tmp="$dist/dovecot-plugins/.$key.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
make -s -C "$here" DOVECOT_CONFIG="$config" OUT="$tmp" >&2
# Read by the node: the exact Dovecot this was built for.
printf '%s\n' "$version" >"$tmp/dovecot-version"
chmod 0755 "$tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "outpost_push Dovecot plugin built for Dovecot $version: $dest"
