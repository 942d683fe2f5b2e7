#!/usr/bin/env bash
# Builds the Outpost .deb with dpkg-deb: the app under /usr/lib/outpost
# (built dist/ and the production node_modules), /usr/bin/outpost, the
# systemd units, the sysusers entry, the udev rule, the polkit rule, and
# the maintainer scripts in image/deb/. Usage:
#
#   image/build-deb.sh [OUT_DIR]        (npm run deb; default OUT_DIR: image/out)
#
# Needs: node and npm, the checkout's node_modules (npm ci), dpkg-deb.
#
# It prints the path of the .deb on its last line. The package is for the
# architecture it is built on (better-sqlite3 is a native module), so build
# the arm64 package on a Pi or an arm64 machine, or as the image build does
# (image/stage2): OUTPOST_DEB_ARCH=arm64 with OUTPOST_DEB_NODE_MODULES=DIR,
# a production node_modules installed by npm on arm64, packed instead of
# the checkout's.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/image/out}"
cd "$root"

version="$(node -p 'require("./package.json").version')"
arch="${OUTPOST_DEB_ARCH:-$(dpkg --print-architecture)}"
stage="$(mktemp -d "${TMPDIR:-/tmp}/outpost-deb.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/outpost_${version}_${arch}"
app="$pkg/usr/lib/outpost"

echo "building outpost $version for $arch" >&2
node build/build.mjs

# --- the app ----------------------------------------------------------------
install -d "$app" "$app/dist" "$app/server/db"
cp -a package.json package-lock.json bin "$app/"
# Only what the build made from server/: an old dist/ may hold other things.
cp -a dist/server dist/haraka-plugins "$app/dist/"
# The web admin and landing page, built by Vite into dist/web.
cp -a dist/web "$app/dist/"
# Migrations are applied at every start, from the installation's folder.
cp -a server/db/migrations "$app/server/db/"
# The IDLE push plugin's source and build script: it must be compiled
# against the exact Dovecot of the machine it runs on (docs/dovecot-push.md),
# so the package builds it there (postinst), not here.
install -d "$app/server/dovecot"
cp -a server/dovecot/push-plugin "$app/server/dovecot/"
# Production dependencies: the checkout's node_modules (built for this
# machine's Node and architecture), with the development ones pruned.
# No network is needed, and what was tested is what is packed.
if [ -n "${OUTPOST_DEB_NODE_MODULES:-}" ]; then
  # Already production-only, built for the package's architecture.
  cp -a "$OUTPOST_DEB_NODE_MODULES" "$app/node_modules"
else
  cp -a node_modules "$app/"
  (cd "$app" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --offline >&2)
fi
# The Delta Chat core is an optional dependency only so that the tests find
# the build for their platform; the node itself never runs it.
rm -rf "$app/node_modules/@deltachat"
rm -rf "$app/node_modules/.cache"
# better-sqlite3 keeps its C sources and object files beside the built
# module; only build/Release/better_sqlite3.node is loaded.
bs="$app/node_modules/better-sqlite3"
if [ -d "$bs" ]; then rm -rf "$bs/deps" "$bs/src" "$bs/build/Release/obj" "$bs/build/Release/obj.target" "$bs/build/Release/.deps" "$bs/build/deps"; fi
# Nothing in the package is writable by anyone but root.
chmod -R u+rwX,go+rX,go-w "$app"

# --- commands, units, rules, docs --------------------------------------------
install -d "$pkg/usr/bin"
ln -s ../lib/outpost/bin/outpost.mjs "$pkg/usr/bin/outpost"
# Every unit in systemd/ (the node, the appliance daemon, the USB
# offload, the hotspot and its path and mDNS units).
for u in systemd/*.service systemd/*.path; do
  install -D -m 0644 "$u" "$pkg/usr/lib/systemd/system/$(basename "$u")"
done
install -D -m 0644 systemd/outpost.sysusers "$pkg/usr/lib/sysusers.d/outpost.conf"
install -D -m 0644 appliance/99-outpost-usb.rules "$pkg/usr/lib/udev/rules.d/99-outpost-usb.rules"
install -D -m 0644 appliance/50-outpost.rules "$pkg/usr/share/polkit-1/rules.d/50-outpost.rules"
install -D -m 0644 README.md "$pkg/usr/share/doc/outpost/README.md"
for d in docs/*.md; do install -D -m 0644 "$d" "$pkg/usr/share/doc/outpost/$(basename "$d")"; done
install -D -m 0644 image/deb/copyright "$pkg/usr/share/doc/outpost/copyright"
install -D -m 0644 image/deb/sudoers-nncp "$pkg/usr/share/doc/outpost/examples/sudoers-nncp"

# --- control -----------------------------------------------------------------
install -d "$pkg/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "image/deb/$s" "$pkg/DEBIAN/$s"; done
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" image/deb/control >"$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's#  \./#  #') >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control"

install -d "$out"
# Files owned by root whoever builds; xz keeps a Pi's download small
# (OUTPOST_DEB_COMPRESSION=gzip builds faster, for tests).
dpkg-deb --root-owner-group -Z"${OUTPOST_DEB_COMPRESSION:-xz}" --build "$pkg" "$out/outpost_${version}_${arch}.deb" >&2
echo "$out/outpost_${version}_${arch}.deb"
