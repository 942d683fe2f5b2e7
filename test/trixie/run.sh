#!/usr/bin/env bash
# Runs test files (or, after --, any command) inside a Debian 13 "trixie"
# root: Dovecot 2.4 and Debian's Node.js 20.19, as on the users' boxes, with
# this checkout (its dist/ and node_modules, built by `npm test` beforehand)
# at the same path.
#
#   test/trixie/run.sh FILE.test.ts...
#   test/trixie/run.sh [--install "PKG…"] -- COMMAND ARG…
#
# --install adds Debian packages for this run only (the benchmark's Postfix).
# The cached root (root.sh) is never written: the run sees it through an
# overlay whose upper layer is thrown away afterwards, and every mount lives
# in a private mount namespace, so nothing stays mounted if the run dies.
# Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
install=
if [ "${1:-}" = --install ]; then install=$2; shift 2; fi
if [ "${1:-}" = -- ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: run.sh [--install PKGS] -- COMMAND..." >&2; exit 2; }
else
  [ $# -gt 0 ] || { echo "usage: run.sh FILE.test.ts... | run.sh [--install PKGS] -- COMMAND..." >&2; exit 2; }
  set -- node --import tsx --test --test-concurrency=1 "$@"
fi
lower=$("$repo/test/trixie/root.sh" tests)
work=$(mktemp -d /tmp/outpost-trixie-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/work" "$work/root"

# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private bash -euo pipefail -c '
  lower=$1 work=$2 repo=$3 install=$4; shift 4
  root=$work/root
  if ! mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$root" 2>/dev/null; then
    # No overlayfs here: a throwaway copy does the same, more slowly.
    rmdir "$root"; cp -a "$lower" "$root"
  fi
  for d in proc sys dev dev/pts; do mount --rbind "/$d" "$root/$d"; done
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$repo"
  mount --rbind "$repo" "$root$repo"
  in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI="${CI:-}" "$@"; }
  if [ -n "$install" ]; then
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $install" >&2
  fi
  # The same node_modules the host installed; better-sqlite3 and the other
  # native modules target Node 20 ABI, which 20.19 shares.
  echo "trixie tier: $(in_root sh -c ". /etc/os-release; echo \$PRETTY_NAME"), Node $(in_root node -v), $(in_root dovecot --version | sed "s/^/Dovecot /")"
  in_root sh -c "cd \"$repo\" && exec \"\$@\"" sh "$@"
' sh "$lower" "$work" "$repo" "$install" "$@"
