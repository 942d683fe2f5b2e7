#!/usr/bin/env bash
# Makes (once) and prints the path of a Debian 13 "trixie" root for the
# trixie tier of the tests: the users' system, with Dovecot 2.4 and Debian's
# own Node.js, on this build machine.
#
#   test/trixie/root.sh base     a minimal trixie (what a fresh box starts from)
#   test/trixie/root.sh tests    base + the packages the Dovecot-facing tests run
#
# Each root is cached outside the checkout, keyed by its package list and
# mirror, so a rerun on one machine is quick and a new machine builds it
# afresh. Needs root, debootstrap and Debian's mirror.
set -euo pipefail

kind=${1:?usage: root.sh base|tests}
MIRROR=${OUTPOST_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${OUTPOST_TEST_CACHE:-/var/cache/outpost-test}
SUITE=trixie

# What a fresh trixie box has before Outpost: debootstrap's minbase, plus
# ca-certificates so npm can reach its registry over TLS.
BASE_PKGS="ca-certificates"
# The packages the tests need inside the root: Dovecot 2.4 as Outpost runs
# it, Debian's Node.js (20.19), openssl for certificates, util-linux for
# setpriv, sqlite3 for looking into the database, procps for ps, and
# dovecot-dev, gcc, libc6-dev (only recommended by gcc) and make to build the
# outpost_push plugin for Dovecot 2.4.
TEST_PKGS="dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite nodejs openssl util-linux sqlite3 procps dovecot-dev gcc libc6-dev make"

key() { printf '%s\n' "$SUITE" "$MIRROR" "$BASE_PKGS" "$@" | sha256sum | cut -c1-12; }

# Writes a root at $1 atomically: built under a temporary name, renamed
# into place only when complete, so an interrupted build is never reused.
build_base() {
  local dest=$1 tmp="$1.tmp.$$"
  rm -rf "$tmp"
  debootstrap --variant=minbase --include="${BASE_PKGS// /,}" "$SUITE" "$tmp" "$MIRROR" >&2
  # The root's apt must reach the same mirror the build used.
  echo "deb $MIRROR $SUITE main" >"$tmp/etc/apt/sources.list"
  rm -f "$tmp/etc/apt/sources.list.d/debian.sources"
  # Services started by package installs inside a chroot would outlive it.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  mv "$tmp" "$dest"
}

mkdir -p "$CACHE"
base="$CACHE/trixie-base-$(key)"
# One builder at a time: a second caller waits and then finds the root.
exec 9>"$CACHE/.lock"
flock 9
[ -d "$base" ] || build_base "$base"
case "$kind" in
  base) echo "$base" ;;
  tests)
    tests="$CACHE/trixie-tests-$(key $TEST_PKGS)"
    if [ ! -d "$tests" ]; then
      tmp="$tests.tmp.$$"
      rm -rf "$tmp"
      cp -a "$base" "$tmp"
      for d in proc dev; do mount --bind "/$d" "$tmp/$d"; done
      trap 'umount "$tmp/proc" "$tmp/dev" 2>/dev/null || true' EXIT
      chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $TEST_PKGS && apt-get clean" >&2
      umount "$tmp/proc" "$tmp/dev"
      trap - EXIT
      mv "$tmp" "$tests"
    fi
    echo "$tests"
    ;;
  *) echo "usage: root.sh base|tests" >&2; exit 2 ;;
esac
