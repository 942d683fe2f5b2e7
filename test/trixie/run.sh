#!/usr/bin/env bash
# Runs test files inside a Debian 13 "trixie" root: Dovecot 2.4.1 and
# Debian's Node.js 20.19, as on the users' boxes, with this checkout (its
# dist/ and node_modules, built by `npm test` beforehand) at the same path.
#
#   test/trixie/run.sh FILE.test.ts...
#
# The cached root (root.sh) is never written: the run sees it through an
# overlay whose upper layer is thrown away afterwards, and every mount lives
# in a private mount namespace, so nothing stays mounted if the run dies.
# Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || { echo "usage: run.sh FILE.test.ts..." >&2; exit 2; }
lower=$("$repo/test/trixie/root.sh" tests)
work=$(mktemp -d /tmp/outpost-trixie-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/work" "$work/root"

# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private bash -euo pipefail -c '
  lower=$1 work=$2 repo=$3; shift 3
  root=$work/root
  if ! mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$root" 2>/dev/null; then
    # No overlayfs here: a throwaway copy does the same, more slowly.
    rmdir "$root"; cp -a "$lower" "$root"
  fi
  for d in proc sys dev dev/pts; do mount --rbind "/$d" "$root/$d"; done
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$repo"
  mount --rbind "$repo" "$root$repo"
  # The same node_modules the host installed; better-sqlite3 and the other
  # native modules target Node 20 ABI, which 20.19 shares.
  echo "trixie tier: $(chroot "$root" sh -c ". /etc/os-release; echo \$PRETTY_NAME"), Node $(chroot "$root" node -v), $(chroot "$root" dovecot --version | sed "s/^/Dovecot /")"
  exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI="${CI:-}" \
    sh -c "cd \"$repo\" && exec node --import tsx --test --test-concurrency=1 \"\$@\"" sh "$@"
' sh "$lower" "$work" "$repo" "$@"
