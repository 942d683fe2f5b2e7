# Installs Outpost from its own .deb, built for arm64 here.
#
# The .deb packs a production node_modules. The checkout's is built for the
# build machine (amd64), and better-sqlite3 is a native module whose
# prebuilt binaries come from GitHub, which cannot be reached. So:
# - npm installs the production dependencies inside a throwaway arm64 copy
#   of this root, with Debian's npm (9.2), without running any package's
#   scripts (the project's own `prepare` would rebuild the web app there);
# - better-sqlite3 is compiled on the build machine with Debian's arm64
#   cross compiler, against the root's own Node.js headers (libnode-dev).
#   Compiling it under emulation takes over half an hour (sqlite3.c alone
#   is 9 MB of C); cross-compiling takes a few minutes;
# - the module is loaded and queried inside the arm64 root before the
#   result is cached, keyed by the lockfile and the root's Node.js.
# The compiler, npm and the headers stay out of the image.

node_version=$(dpkg-query --admindir="${ROOTFS_DIR}/var/lib/dpkg" -W -f '${Version}' nodejs)
# Keyed by the lockfile (it holds every dependency npm ci installs, the
# project's own list included), not package.json: a changed script or
# field there installs nothing new.
modules_key=$({ cat "$REPO/package-lock.json"; echo "$node_version $ARCH"; } | sha256sum | cut -c1-16)
modules="$CACHE/node_modules-$modules_key"
if [ ! -d "$modules" ]; then
  log "node_modules for $ARCH (Node.js $node_version): npm ci in an arm64 root, better-sqlite3 cross-compiled"
  command -v aarch64-linux-gnu-g++ >/dev/null || { echo "image/build.sh: aarch64-linux-gnu-g++ is missing; apt-get install g++-aarch64-linux-gnu" >&2; exit 1; }
  npmroot="$WORK/npmroot"
  # Copied without the mounts (/proc, /dev, /sys) of the running stage.
  chroot_leave "$ROOTFS_DIR"
  cp -a "$ROOTFS_DIR" "$npmroot"
  chroot_enter "$ROOTFS_DIR"
  (
    ROOTFS_DIR=$npmroot
    chroot_enter "$ROOTFS_DIR"
    trap 'chroot_leave "$ROOTFS_DIR"' EXIT
    echo 'apt-get install -y -q --no-install-recommends npm libnode-dev' | on_chroot
    install -d "$ROOTFS_DIR/build"
    cp "$REPO/package.json" "$REPO/package-lock.json" "$ROOTFS_DIR/build/"
    # The build machine's CA bundle, for a registry reached through a
    # TLS-inspecting proxy; this root is thrown away afterwards.
    cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS_DIR/build/ca.crt"
    echo 'cd /build && NODE_EXTRA_CA_CERTS=/build/ca.crt npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error' | on_chroot
    # node-gyp from the build machine's npm; --nodedir: the arm64 root's
    # headers (include/node), so the module fits the Node.js it runs on.
    gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
    (cd "$ROOTFS_DIR/build/node_modules/better-sqlite3" && \
      CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
      node "$gyp" rebuild --release --arch=arm64 --nodedir="$ROOTFS_DIR/usr" -j "$(nproc)" >&2)
    # Prove the module loads and works on arm64 before it is cached.
    echo 'cd /build && node -e "new (require(\"better-sqlite3\"))(\":memory:\").prepare(\"select 1\").get()"' | on_chroot
    rm -rf "$modules.tmp"
    mv "$ROOTFS_DIR/build/node_modules" "$modules.tmp"
  )
  rm -rf "$npmroot"
  mv "$modules.tmp" "$modules"
fi

# The .deb, with the arm64 modules; gzip because the image is compressed
# as a whole anyway.
deb=$(OUTPOST_DEB_ARCH=$ARCH OUTPOST_DEB_NODE_MODULES=$modules OUTPOST_DEB_COMPRESSION=gzip bash "$REPO/image/build-deb.sh" "$WORK/deb" | tail -1)
cp "$deb" "${ROOTFS_DIR}/tmp/outpost.deb"
echo 'apt-get install -y -q --no-install-recommends /tmp/outpost.deb && rm /tmp/outpost.deb && apt-get clean' | on_chroot
# The IDLE push plugin (docs/dovecot-push.md), compiled inside the arm64
# root against its own Dovecot (one small C file: seconds, even emulated);
# the compiler and headers are removed again, so the image carries only the
# plugin. The box's node finds it in /usr/lib/outpost/dist/dovecot-plugins.
echo 'apt-get install -y -q --no-install-recommends dovecot-dev gcc libc6-dev make \
  && /usr/lib/outpost/server/dovecot/push-plugin/build.sh /usr/lib/outpost/dist \
  && apt-get purge -y -q dovecot-dev gcc libc6-dev make && apt-get autoremove -y -q --purge && apt-get clean' | on_chroot
test -f "${ROOTFS_DIR}"/usr/lib/outpost/dist/dovecot-plugins/*/lib20_outpost_push_plugin.so || { echo "image: the outpost_push plugin was not built" >&2; exit 1; }
cp "$deb" "$OUT_DIR/"

# The postinst made a node named after the build machine. Every box must
# make its own identity (node keys, TLS certificate, name, domain) at its
# first boot, from outpost-setup.txt: nothing of the build's may remain.
find "${ROOTFS_DIR}/var/lib/outpost" -mindepth 1 -delete
