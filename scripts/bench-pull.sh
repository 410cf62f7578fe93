#!/usr/bin/env bash
# bench-pull.sh [SWCTR] - `make bench`: image pull + unpack time of swctr next to podman, in one run.
#
# Runs ../shared/bench/pull.sh with its SWCTR hook (SWCTR_PULL_FLAGS=--tls-verify=false: its registry
# is plain HTTP on 127.0.0.1) as the unprivileged user swctr-test. pull.sh starts its own read-only
# docker-registry over /var/tmp/swctr-bench (bench/busybox, 1 layer of 1 MiB; bench/debian, 3 gzip
# layers, ~81 MiB; built there by ../shared/bench/make-test-images.sh when missing, as root, the
# first time with debootstrap) and measures, per image, median of PULL_RUNS (default 3), in seconds:
#   pull.IMG.podman-overlay   podman pull into a fresh overlay store (image removed between runs)
#   pull.IMG.swctr            swctr pull with fresh XDG dirs each run (every layer fetched and unpacked)
#   pull.IMG.skopeo+umoci     skopeo copy + umoci unpack --rootless (fetch, then unpack)
# podman-vfs is left out (ONLY, see below; it is the slowest row and adds nothing here). Then:
#   ratio pull.busybox podman-overlay/swctr 1.8x
#   ratio pull.debian podman-overlay/swctr 1.3x
#   ratio pull.debian skopeo+umoci/swctr 3.0x
# (above 1: swctr is faster). SWCTR: the swctr binary ($1, else $SWCTR). Knobs passed on to pull.sh:
# PULL_RUNS, IMAGES ("busybox debian"), ONLY (default 'podman-overlay|swctr|skopeo'), MAX_SECONDS
# (default 240), SWCTR_PULL_FLAGS. As root, installs pull.sh's packages when missing and creates
# swctr-test (setup-test-host.sh) when it does not exist. Exit status: 0 when the swctr and podman
# rows were measured for every image.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
SELF=$(basename "$0")
PULL=$(dirname "$HERE")/../shared/bench/pull.sh
BENCH_USER=swctr-test
BENCH_PKGS=(podman runc skopeo umoci docker-registry)

# shellcheck source=bench-prepare.sh
source "$HERE/bench-prepare.sh"
bench_prepare "$PULL" "${1:-}"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
images=${IMAGES:-busybox debian}
log "pull.sh images: $images; rows: podman-overlay swctr skopeo+umoci; swctr = $bin"
rc=0
IMAGES=$images ONLY=${ONLY:-podman-overlay|swctr|skopeo} MAX_SECONDS=${MAX_SECONDS:-240} \
  SWCTR=$bin SWCTR_PULL_FLAGS=${SWCTR_PULL_FLAGS:---tls-verify=false} BENCH_USER=$BENCH_USER \
  bash "$PULL" | tee "$out" || rc=$?
[[ $rc == 0 ]] || log "pull.sh exited with $rc"

median() { awk -v n="pull.$1.$2" '$1 == n { print $2 }' "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
unmeasured=()
for n in $images; do
  s=$(median "$n" swctr) p=$(median "$n" podman-overlay) su=$(median "$n" skopeo+umoci)
  [[ -n $s ]] || { unmeasured+=("$n.swctr"); echo "ratio pull.$n podman-overlay/swctr unknown (no swctr row: see the '# pull.$n.swctr' lines above)"; continue; }
  if [[ -n $p ]]; then echo "ratio pull.$n podman-overlay/swctr $(ratio "$p" "$s")x"
  else unmeasured+=("$n.podman-overlay"); echo "ratio pull.$n podman-overlay/swctr unknown (no podman-overlay row)"; fi
  [[ -n $su ]] && echo "ratio pull.$n skopeo+umoci/swctr $(ratio "$su" "$s")x"
done
[[ ${#unmeasured[@]} == 0 ]] || die "rows not measured: ${unmeasured[*]}"
