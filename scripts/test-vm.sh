#!/usr/bin/env bash
# test-vm.sh - the cgroup v2 tests this host cannot run (it has hybrid cgroups), in a User-mode
# Linux Debian guest with cgroup v2 only and systemd user delegation (../shared/bench/vm.sh).
#
#   scripts/test-vm.sh [BINARY]     BINARY: a release swctr (default .build/release/swctr)
#
# Builds the guest once, as root, with the Debian packages of the binary's shared libraries (found
# with ldd and dpkg -S on this host; the list is kept beside the image and a missing package makes
# it build again). Shares the binary, a busybox rootfs tarball (busybox-static) and
# scripts/vm-cgroup-tests.sh read-only into the guest, runs the tests there as the lingering user
# 'tester' in a logind session, and exits with their status (PASS/FAIL lines on stdout).
# Bounded: VM_TIMEOUT (default 900 s) covers boot, tests and power-off.
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(dirname "$HERE")
VM=${VM_SCRIPT:-$ROOT/../shared/bench/vm.sh}
export VM_DIR=${VM_DIR:-/var/tmp/swctr-vm}
export VM_TIMEOUT=${VM_TIMEOUT:-900}
BINARY=${1:-$ROOT/.build/release/swctr}

[ -f "$VM" ] || { echo "test-vm: $VM not found (set VM_SCRIPT to vm.sh)" >&2; exit 2; }
[ -x "$BINARY" ] || { echo "test-vm: no binary at $BINARY — run: make build" >&2; exit 2; }
{ ldd /bin/busybox 2>&1 || true; } | grep -q "not a dynamic" || { echo "test-vm: needs a static /bin/busybox — run: apt-get install busybox-static" >&2; exit 2; }

# The guest packages the binary needs: its libraries' packages, and libslirp0 (loaded with dlopen).
packages=$( { for library in $(ldd "$BINARY" | awk '/=> \//{print $3}'); do
                  dpkg -S "*/$(basename "$(readlink -f "$library")")" 2>/dev/null | cut -d: -f1
              done
              echo libslirp0; } | sort -u | tr '\n' ' ')
stamp=$VM_DIR/swctr-extra-packages
have=$(cat "$stamp" 2>/dev/null || true)
missing=0
[ -f "$VM_DIR/root.img" ] || missing=1
for package in $packages; do
    case " $have " in *" $package "*) ;; *) missing=1 ;; esac
done
if [ "$missing" = 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "test-vm: the guest image needs (re)building with: $packages — run this once as root" >&2; exit 2; }
    echo "test-vm: building the guest (about 2 minutes) with: $packages"
    VM_EXTRA_PACKAGES="$packages" bash "$VM" build
    mkdir -p "$VM_DIR" && echo " $packages " > "$stamp"
fi

share=$(mktemp -d /var/tmp/swctr-vm-share.XXXXXX)
trap 'rm -rf "$share"' EXIT
chmod 0755 "$share"
install -m 0755 "$BINARY" "$share/swctr"
install -m 0755 "$HERE/vm-cgroup-tests.sh" "$share/vm-cgroup-tests.sh"
# A busybox root filesystem (the guest has no registry): bin/busybox and its applets as links.
rootfs=$share/rootfs
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$share/busybox.tar" .
rm -rf "$rootfs"
chmod -R a+rX "$share"

VM_SHARE=$share bash "$VM" run bash /mnt/host/vm-cgroup-tests.sh
