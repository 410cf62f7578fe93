#!/usr/bin/env bash
# bench-net.sh [SWCTR] - `make bench`: swctr's userspace network next to its anchors, in one run.
#
# Runs ../shared/bench/net.sh (iperf3 throughput, median of RUNS) with its SWCTR_RUN hook, as the
# unprivileged user swctr-test: loopback, slirp4netns, pasta and rootlesskit's builtin port driver,
# then swctr-c2h (a container's iperf3 client to the host's loopback through 10.0.2.2, with
# allow_host_loopback) and swctr-h2c (the host's client to a published port). The container image
# is test/iperf from the loopback test registry (setup-test-host.sh builds it from this host's
# iperf3 package). Then connection rate: sequential connect + 1-byte echo + close through a
# published port, for swctr and rootlesskit's builtin driver, and ratios:
#   ratio swctr-c2h/slirp4netns-c2h 1.05x      target >= 1
#   ratio swctr-h2c/rootlesskit-builtin-h2c    target >= 1
#   ratio swctr-c2h/pasta-c2h-tap, swctr-h2c/pasta-h2c-splice   reported
# SWCTR: the swctr binary ($1, else $SWCTR). Knobs passed on to net.sh: DURATION, RUNS, MAX_SECONDS.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
SELF=$(basename "$0")
NET=$(dirname "$HERE")/../shared/bench/net.sh
BENCH_USER=swctr-test
BENCH_PKGS=(iperf3 slirp4netns passt rootlesskit libslirp0)

die() { printf '%s: error: %s\n' "$SELF" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$SELF" "$*" >&2; }

bin=${1:-${SWCTR:-}}
[[ -n $bin && -x $bin ]] || die "no swctr binary given: bench-net.sh PATH/TO/swctr (or SWCTR=...)"
bin=$(readlink -f "$bin")
[[ -r $NET ]] || die "$NET not found: ../shared must sit beside the repository"
[[ $(id -u) == 0 ]] || die "run as root: net.sh switches to $BENCH_USER, and setup may install packages"

missing=()
for p in "${BENCH_PKGS[@]}"; do
  [[ $(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null) == "ii "* ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
bash "$HERE/setup-test-host.sh" >/dev/null || die "setup-test-host.sh failed"
# shellcheck disable=SC1091
source /var/tmp/swctr-test/env
[[ ,$SWCTR_TEST_IMAGES, == *,test/iperf,* ]] || die "the test registry has no test/iperf image (is iperf3 installed?)"

# The bench user's own swctr state, kept between runs (the image is pulled once).
STATE=/var/tmp/swctr-bench-net
mkdir -p "$STATE/data" "$STATE/run"
chown -R "$BENCH_USER" "$STATE"
chmod 0700 "$STATE/run"
SWCTR_ENV="env HOME=$STATE XDG_DATA_HOME=$STATE/data XDG_RUNTIME_DIR=$STATE/run"
IMAGE=$SWCTR_TEST_REGISTRY/test/iperf:latest
runuser -u "$BENCH_USER" -- $SWCTR_ENV "$bin" pull -q "$IMAGE" >/dev/null || die "cannot pull $IMAGE as $BENCH_USER"

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
log "net.sh with SWCTR_RUN (swctr = $bin); about 2-3 minutes"
rc=0
BENCH_USER=$BENCH_USER SWCTR_RUN="$SWCTR_ENV $bin run --rm --network slirp:allow_host_loopback=true {PUB} $IMAGE" \
  MAX_SECONDS=${MAX_SECONDS:-300} bash "$NET" > >(tee "$out") 2> >(tee "$err" >&2) || rc=$?
wait
[[ $rc == 0 ]] || log "net.sh exited with $rc"

# Connection rate through a published port: swctr next to rootlesskit's builtin driver (net.sh's
# crr lines already give that one); each sequential connection echoes one byte.
P=$((15200 + 90))
crr() { # crr PORT: median microseconds per connect + 1-byte echo + close
  python3 - "$1" <<'PY'
import socket, sys, time, statistics
port = int(sys.argv[1]); times = []
for _ in range(300):
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"x"); s.recv(1)
    times.append((time.perf_counter() - t) * 1e6)
print("%.0f" % statistics.median(times))
PY
}
runuser -u "$BENCH_USER" -- $SWCTR_ENV "$bin" rm -f bench-crr >/dev/null 2>&1 || true
runuser -u "$BENCH_USER" -- $SWCTR_ENV "$bin" run -d --name bench-crr -p 127.0.0.1:$P:7000 \
  "$SWCTR_TEST_REGISTRY/test/probe:latest" probe tcp-echo 7000 >/dev/null || die "cannot start the echo container"
for _ in $(seq 100); do runuser -u "$BENCH_USER" -- $SWCTR_ENV "$bin" logs bench-crr | grep -q listening && break; sleep 0.05; done
swctr_crr=$(crr $P) || swctr_crr=
runuser -u "$BENCH_USER" -- $SWCTR_ENV "$bin" rm -f bench-crr >/dev/null 2>&1 || true
[[ -n $swctr_crr ]] && echo "swctr-h2c-crr ${swctr_crr}us"

value() { awk -v n="$1" '$1 == n { print $2 }' "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
row() { # row NAME A B TARGET: prints the ratio A/B and, with a target, a verdict
  local a b; a=$(value "$2"); b=$(value "$3")
  if [[ -z $a || -z $b ]]; then echo "ratio $2/$3 unknown (a row is missing)"; return; fi
  local r; r=$(ratio "$a" "$b")
  if [[ -n $4 ]]; then
    if awk -v r="$r" -v t="$4" 'BEGIN { exit !(r >= t) }'; then echo "ratio $2/$3 ${r}x PASS (target >= $4)"
    else echo "ratio $2/$3 ${r}x MISS (target >= $4)"; fi
  else
    echo "ratio $2/$3 ${r}x"
  fi
}
row c2h swctr-c2h slirp4netns-c2h 1
row h2c swctr-h2c rootlesskit-builtin-h2c 1
row c2h swctr-c2h pasta-c2h-tap ""
row h2c swctr-h2c pasta-h2c-splice ""
# Every connection-rate line net.sh measured, next to swctr's.
sed -n 's/^# \([a-z0-9-]*-crr\) median_us=\([0-9]*\).*/\1 \2us/p' "$err"
rk_crr=$(sed -n "s/^# rootlesskit-builtin-h2c-crr median_us=\([0-9]*\).*/\1/p" "$err" | head -1)
[[ -n $rk_crr && -n $swctr_crr ]] && echo "connection rate: swctr ${swctr_crr}us, rootlesskit builtin ${rk_crr}us per connection (ratio $(ratio "$rk_crr" "$swctr_crr")x)"
exit 0
