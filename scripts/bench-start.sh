#!/usr/bin/env bash
# bench-start.sh [SWCTR] - `make bench`: container start-up time of swctr next to its anchors.
#
# Runs ../shared/bench/start.sh (hyperfine, `run --rm IMAGE true` from a loopback registry) on the
# rows that matter here, in one run: true (process spawn floor), unshare (the namespace floor,
# `unshare -Urmpf --mount-proc true`), bwrap, runc, podman overlay --network none, and swctr
# --network none (`swctr pull REF`, then `swctr run --rm --network none REF true`), as the
# unprivileged user swctr-test; and, with no target, both with their default network (podman's
# slirp4netns, swctr's own helper: `ratio podman-net/swctr-net`). Then prints ratios of the
# medians and verdicts against the targets
# "swctr within 3x of the unshare floor" and "swctr at least 15x faster than podman":
#   ratio swctr/unshare 2.8x
#   ratio podman/swctr 16.0x
#   ratio runc/swctr 1.1x
#   ratio bwrap/swctr 0.3x
#   verdict: PASS swctr is 2.8x the unshare floor (target <= 3x)
#   verdict: PASS swctr starts 16.0x faster than podman (target >= 15x)
# SWCTR: the swctr binary ($1, else $SWCTR). As root, installs the bench packages when missing and
# creates swctr-test (setup-test-host.sh) when it does not exist. RUNS, WARMUP, MAX_SECONDS are
# passed on to start.sh; RUNS is 30 here unless set (start.sh's 10 left medians a millisecond or
# two apart between runs on this VM). Exit status: 0 when all rows were measured, whatever the
# verdicts.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
SELF=$(basename "$0")
START=$(dirname "$HERE")/../shared/bench/start.sh
BENCH_USER=swctr-test
BENCH_PKGS=(podman runc crun hyperfine umoci skopeo slirp4netns)
TARGET_PODMAN=15
TARGET_FLOOR=3
ONLY_ROWS='^(true|unshare|bwrap|runc|podman-overlay-none|podman-overlay-net|swctr|swctr-none|swctr-net)$'   # "swctr" enables start.sh's hook

# shellcheck source=bench-prepare.sh
source "$HERE/bench-prepare.sh"
bench_prepare "$START" "${1:-}"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
log "start.sh rows: true unshare bwrap runc podman-overlay-none podman-overlay-net swctr-none swctr-net; swctr = $bin"
rc=0
RUNS=${RUNS:-30} ONLY=$ONLY_ROWS SWCTR=$bin BENCH_USER=$BENCH_USER bash "$START" | tee "$out" || rc=$?
[[ $rc == 0 ]] || log "start.sh exited with $rc"

median() { awk -v n="start.$1" '$1 == n { print $2 }' "$out"; }
t_true=$(median true) t_unshare=$(median unshare) t_bwrap=$(median bwrap) t_runc=$(median runc)
t_podman=$(median podman-overlay-none) t_swctr=$(median swctr-none)
[[ -n $t_swctr ]] || die "no swctr-none row: 'swctr run --rm --network none' failed or timed out (see the '# swctr' lines above)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
[[ -n $t_unshare ]] && echo "ratio swctr/unshare $(ratio "$t_swctr" "$t_unshare")x"
[[ -n $t_podman ]] && echo "ratio podman/swctr $(ratio "$t_podman" "$t_swctr")x"
[[ -n $t_runc ]] && echo "ratio runc/swctr $(ratio "$t_runc" "$t_swctr")x"
[[ -n $t_bwrap ]] && echo "ratio bwrap/swctr $(ratio "$t_bwrap" "$t_swctr")x"
# The default network (slirp4netns for podman, swctr's own helper): no target, for the record.
t_podman_net=$(median podman-overlay-net) t_swctr_net=$(median swctr-net)
[[ -n $t_podman_net && -n $t_swctr_net ]] && echo "ratio podman-net/swctr-net $(ratio "$t_podman_net" "$t_swctr_net")x"
[[ -n $t_true ]] && echo "swctr over the spawn floor $(awk -v a="$t_swctr" -v b="$t_true" 'BEGIN { printf "%.1f", a - b }') ms"
if [[ -z $t_unshare ]]; then
  echo "verdict: UNKNOWN no unshare row (target: swctr within ${TARGET_FLOOR}x of the unshare floor)"
elif awk -v a="$t_swctr" -v b="$t_unshare" -v t="$TARGET_FLOOR" 'BEGIN { exit !(a <= t * b) }'; then
  echo "verdict: PASS swctr is $(ratio "$t_swctr" "$t_unshare")x the unshare floor (target <= ${TARGET_FLOOR}x)"
else
  echo "verdict: MISS swctr is $(ratio "$t_swctr" "$t_unshare")x the unshare floor (target <= ${TARGET_FLOOR}x)"
fi
if [[ -z $t_podman ]]; then
  echo "verdict: UNKNOWN no podman row to compare with (target: swctr at least ${TARGET_PODMAN}x faster than podman)"
elif awk -v a="$t_podman" -v b="$t_swctr" -v t="$TARGET_PODMAN" 'BEGIN { exit !(a >= t * b) }'; then
  echo "verdict: PASS swctr starts $(ratio "$t_podman" "$t_swctr")x faster than podman (target >= ${TARGET_PODMAN}x)"
else
  echo "verdict: MISS swctr starts only $(ratio "$t_podman" "$t_swctr")x faster than podman (target >= ${TARGET_PODMAN}x)"
fi
missing_rows=()
for r in true unshare bwrap runc podman-overlay-none; do [[ -n $(median "$r") ]] || missing_rows+=("$r"); done
[[ ${#missing_rows[@]} == 0 ]] || die "rows not measured: ${missing_rows[*]} (see start.sh's '#' lines above)"
