# Installs Outpost from its own .deb, built for arm64 here.
#
# The .deb packs a production node_modules. The checkout's is built for the
# build machine (amd64), and better-sqlite3 is a native module whose
# prebuilt binaries come from GitHub, which cannot be reached; so npm
# installs the production dependencies inside an arm64 copy of this root,
# with Debian's npm (9.2) and compiler, where better-sqlite3 builds from
# source. The result is cached beside the stages, keyed by the lockfile and
# the root's Node.js, because the build under emulation takes many minutes.
# The compiler and npm stay out of the image: the copy is thrown away.

node_version=$(dpkg-query --admindir="${ROOTFS_DIR}/var/lib/dpkg" -W -f '${Version}' nodejs)
modules_key=$({ cat "$REPO/package.json" "$REPO/package-lock.json"; echo "$node_version $ARCH"; } | sha256sum | cut -c1-16)
modules="$CACHE/node_modules-$modules_key"
if [ ! -d "$modules" ]; then
  log "node_modules for $ARCH (Node.js $node_version): npm ci --omit=dev in an arm64 root"
  npmroot="$WORK/npmroot"
  # Copied without the mounts (/proc, /dev, /sys) of the running stage.
  chroot_leave "$ROOTFS_DIR"
  cp -a "$ROOTFS_DIR" "$npmroot"
  chroot_enter "$ROOTFS_DIR"
  (
    ROOTFS_DIR=$npmroot
    chroot_enter "$ROOTFS_DIR"
    trap 'chroot_leave "$ROOTFS_DIR"' EXIT
    echo 'apt-get install -y -q --no-install-recommends npm make g++ python3' | on_chroot
    install -d "$ROOTFS_DIR/build"
    cp "$REPO/package.json" "$REPO/package-lock.json" "$ROOTFS_DIR/build/"
    # The build machine's CA bundle, for a registry reached through a
    # TLS-inspecting proxy; this root is thrown away afterwards.
    cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS_DIR/build/ca.crt"
    # --ignore-scripts: the project's own `prepare` (the web and server
    # build) must not run here, the checkout's dist/ is what gets packed;
    # and no dependency's script runs but the one that is needed:
    # better-sqlite3's, by `npm rebuild`. Its prebuilt download fails (no
    # GitHub) and it falls back to node-gyp with Debian's Node.js headers.
    echo 'cd /build && NODE_EXTRA_CA_CERTS=/build/ca.crt npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error' | on_chroot
    echo 'cd /build && NODE_EXTRA_CA_CERTS=/build/ca.crt npm rebuild better-sqlite3 --foreground-scripts --no-audit --no-fund' | on_chroot
    # Prove the module loads on arm64 before it is cached.
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
cp "$deb" "$OUT_DIR/"

# The postinst made a node named after the build machine. Every box must
# make its own identity (node keys, TLS certificate, name, domain) at its
# first boot, from outpost-setup.txt: nothing of the build's may remain.
find "${ROOTFS_DIR}/var/lib/outpost" -mindepth 1 -delete
