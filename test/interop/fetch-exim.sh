#!/usr/bin/env bash
# Fetches Debian's Exim (exim4-daemon-light and exim4-base) and unpacks it
# into a folder, without installing it: Exim and Postfix are both the
# system's MTA and cannot be installed side by side, and the tests need
# Postfix installed. The classic-peer interop test
# (test/e2e/interop/exim-nncp.test.ts) runs this Exim on its own config file
# in a temp dir, never the system's.
#
# Usage: test/interop/fetch-exim.sh [DIR]
#   DIR defaults to $OUTPOST_EXIM_ROOT, then $OUTPOST_TEST_CACHE/exim, then
#   /var/cache/outpost-test/exim. The test looks in the same places.
#
# The unpacked binary needs libidn12, a plain library package that
# installs beside anything: `apt-get install libidn12` (.ci/run does).
# It also looks up its compiled-in user "Debian-exim"; the test supplies it
# in a private mount namespace when the system has no such user.
set -euo pipefail

dir="${1:-${OUTPOST_EXIM_ROOT:-${OUTPOST_TEST_CACHE:-/var/cache/outpost-test}/exim}}"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; as root it warns that
# _apt cannot read it, which is harmless, so the folder is made readable.
chmod 755 "$work"
cd "$work"
apt-get download exim4-daemon-light exim4-base >/dev/null
rm -rf "$dir/root"
for deb in ./*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
exim="$dir/root/usr/sbin/exim4"
[ -x "$exim" ] || { echo "fetch-exim: no $exim after unpacking" >&2; exit 1; }
if ldd "$exim" | grep -q 'not found'; then
  echo "fetch-exim: $exim misses libraries; install them (apt-get install libidn12):" >&2
  ldd "$exim" | grep 'not found' >&2
  exit 1
fi
dpkg-deb -f ./exim4-daemon-light_*.deb Version >"$dir/VERSION"
echo "Exim $(cat "$dir/VERSION") unpacked in $dir/root"
