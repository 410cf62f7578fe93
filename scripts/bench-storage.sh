#!/usr/bin/env bash
# bench-storage.sh [SWCTR] - `make bench`: swctr's FUSE overlay next to the kernel overlay and
# fuse-overlayfs, in one run.
#
# Runs ../shared/bench/storage.sh as the unprivileged user swctr-test with its SWCTR hook (the
# default SWCTR_FUSE_CMD, `$SWCTR fuse-overlay -o lowerdir=..,upperdir=..,workdir=.. MNT`). Every
# filesystem gets the same lower layers (the debootstrap minbase tree, 6.6k entries, and one
# SIZE_MB file), a fresh upper and work on tmpfs, and a fresh mount per run. storage.sh prints
# `storage.FS.TEST median unit` (and .min/.max); then this script prints, per test,
#   ratio storage.TEST fuse-overlayfs/swctr 2.4x   (above 1: swctr is better; for MiB/s rows the
#   ratio is swctr/fuse-overlayfs, so above 1 is better there too)
#   ratio storage.TEST overlay/swctr ...           (how close swctr gets to the kernel)
# Knobs passed on: RUNS, META_RUNS, SIZE_MB, NFILES, UPPER, ONLY, MAX_SECONDS (default 200).
# Exit status: 0 when swctr and fuse-overlayfs rows were measured.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
SELF=$(basename "$0")
STORAGE=$(dirname "$HERE")/../shared/bench/storage.sh
BENCH_USER=swctr-test
BENCH_PKGS=(fuse-overlayfs fuse3)

# shellcheck source=bench-prepare.sh
source "$HERE/bench-prepare.sh"
bench_prepare "$STORAGE" "${1:-}"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
log "storage.sh rows: direct overlay fuse-overlayfs swctr; swctr = $bin"
rc=0
MAX_SECONDS=${MAX_SECONDS:-200} SWCTR=$bin BENCH_USER=$BENCH_USER bash "$STORAGE" | tee "$out" || rc=$?
[[ $rc == 0 ]] || log "storage.sh exited with $rc"

median() { awk -v n="storage.$1.$2" '$1 == n { print $2 }' "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
missing=()
for t in mount find-cold find-warm read copyup write meta-create meta-stat meta-delete; do
  s=$(median swctr "$t") f=$(median fuse-overlayfs "$t") k=$(median overlay "$t")
  [[ -n $s ]] || { missing+=("swctr.$t"); continue; }
  case $t in
    read|write) [[ -n $f ]] && echo "ratio storage.$t swctr/fuse-overlayfs $(ratio "$s" "$f")x"
                [[ -n $k ]] && echo "ratio storage.$t swctr/overlay $(ratio "$s" "$k")x" ;;
    *) [[ -n $f ]] && echo "ratio storage.$t fuse-overlayfs/swctr $(ratio "$f" "$s")x"
       [[ -n $k ]] && echo "ratio storage.$t overlay/swctr $(ratio "$k" "$s")x" ;;
  esac
done
[[ ${#missing[@]} == 0 ]] || die "rows not measured: ${missing[*]}"
