#!/usr/bin/env bash
# bench-lifecycle.sh SWCTR - `make bench`: the detached-container lifecycle, swctr next to podman in one run.
#
# As the unprivileged test user (setup-test-host.sh makes it and the loopback registry), with the
# test busybox image, each tool in its own throw-away state directories:
#   lifecycle   one `run -d --network none IMAGE sleep 600` + `stop -t 0` + `rm` cycle (hyperfine, median ms)
#   ps-200      `ps -a` with 200 created containers (hyperfine, median ms)
#   monitor-rss resident memory of the per-container monitor (swctr __monitor, podman's conmon), KiB:
#               private (RssAnon: what each more container costs) and total (VmRSS, which also counts
#               the binary's pages in the page cache, shared by every monitor of the same binary)
# Prints `name median unit` rows and `ratio podman/swctr` lines. RUNS (default 10) sets hyperfine runs.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
BENCH_USER=swctr-test
RUNS=${RUNS:-10}
CONTAINERS=${CONTAINERS:-200}

bin=$(readlink -f "${1:-${SWCTR:-}}")
[[ -x $bin ]] || { echo "bench-lifecycle.sh: give the swctr binary" >&2; exit 1; }

if [[ $(id -u) == 0 ]]; then
  env_file=$(bash "$HERE/setup-test-host.sh" | tail -n 1)
  set -a
  # shellcheck disable=SC1090
  source "$env_file"
  set +a
  install -d -m 0755 /var/tmp/swctr-bench-bin
  [[ $bin == /var/tmp/swctr-bench-bin/swctr ]] || install -m 0755 "$bin" /var/tmp/swctr-bench-bin/swctr
  exec runuser -u "$BENCH_USER" -- env SWCTR_TEST_REGISTRY="$SWCTR_TEST_REGISTRY" RUNS="$RUNS" CONTAINERS="$CONTAINERS" \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin bash "$0" /var/tmp/swctr-bench-bin/swctr
fi

image="${SWCTR_TEST_REGISTRY:?run as root, or export SWCTR_TEST_REGISTRY}/test/busybox"
work=$(mktemp -d /tmp/swctr-bench-lifecycle.XXXXXX)
cleanup() {
  env "${SW[@]}" "$bin" ps -aq --no-trunc 2>/dev/null | xargs -r env "${SW[@]}" "$bin" rm -f >/dev/null 2>&1 || true
  env "${PD[@]}" podman rm -af -t 0 >/dev/null 2>&1 || true
  [[ -f $work/p/run/libpod/tmp/pause.pid ]] && kill "$(cat "$work/p/run/libpod/tmp/pause.pid")" 2>/dev/null
  podman unshare rm -rf "$work" 2>/dev/null || rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# swctr: its own XDG directories.
mkdir -p "$work/s/data" "$work/s/run" "$work/s/cfg"; chmod 700 "$work/s/run"
SW=(HOME="$HOME" XDG_DATA_HOME="$work/s/data" XDG_RUNTIME_DIR="$work/s/run" XDG_CONFIG_HOME="$work/s/cfg")
# podman: its own store, runtime dir and configuration (runc, cgroupfs, file events: this host has no systemd).
mkdir -p "$work/p/data" "$work/p/run" "$work/p/cfg/containers" "$work/p/tmp"; chmod 700 "$work/p/run"
printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[containers]\nlog_driver = "k8s-file"\n' \
  >"$work/p/cfg/containers/containers.conf"
printf '[storage]\ndriver = "overlay"\n' >"$work/p/cfg/containers/storage.conf"
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "${image%%/*}" \
  >"$work/p/cfg/containers/registries.conf"
PD=(HOME="$HOME" XDG_DATA_HOME="$work/p/data" XDG_RUNTIME_DIR="$work/p/run" XDG_CONFIG_HOME="$work/p/cfg" TMPDIR="$work/p/tmp"
    CONTAINERS_CONF="$work/p/cfg/containers/containers.conf" CONTAINERS_STORAGE_CONF="$work/p/cfg/containers/storage.conf"
    CONTAINERS_REGISTRIES_CONF="$work/p/cfg/containers/registries.conf")

env "${SW[@]}" "$bin" pull -q "$image" >/dev/null
env "${PD[@]}" podman pull -q --tls-verify=false "$image" >/dev/null

median() { # median NAME CMD: hyperfine median in ms
  local json=$work/$1.json
  hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$json" -- "$2" >"$work/$1.log" 2>&1 || { echo "# $1 failed: $(tail -n 3 "$work/$1.log")" >&2; return 1; }
  python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$json"
}
# shellcheck disable=SC2016 # expanded by the sh that hyperfine runs
cycle='id=$(T run -d --network none IMG sleep 600) && T stop -t 0 "$id" >/dev/null && T rm "$id" >/dev/null'
sw_tool="env ${SW[*]} $bin"
pd_tool="env ${PD[*]} podman"
sw_cycle=$(median swctr-lifecycle "sh -c '$(echo "$cycle" | sed "s|T |$sw_tool |g; s|IMG|$image|")'")
pd_cycle=$(median podman-lifecycle "sh -c '$(echo "$cycle" | sed "s|T |$pd_tool |g; s|IMG|$image|")'")
echo "lifecycle.swctr $sw_cycle ms"
echo "lifecycle.podman $pd_cycle ms"

for _ in $(seq 1 "$CONTAINERS"); do env "${SW[@]}" "$bin" create "$image" true >/dev/null; done
for _ in $(seq 1 "$CONTAINERS"); do env "${PD[@]}" podman create "$image" true >/dev/null; done
sw_ps=$(median swctr-ps "$sw_tool ps -a")
pd_ps=$(median podman-ps "$pd_tool ps -a")
echo "ps-$CONTAINERS.swctr $sw_ps ms"
echo "ps-$CONTAINERS.podman $pd_ps ms"

rss() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
sw_id=$(env "${SW[@]}" "$bin" run -d --network none "$image" sleep 600)
sw_pid=$(pgrep -u "$(id -u)" -f "__monitor $sw_id")
pd_id=$(env "${PD[@]}" podman run -d --network none "$image" sleep 600)
pd_pid=$(pgrep -u "$(id -u)" -f "conmon.*$pd_id" | head -n 1)
sw_rss=$(rss "$sw_pid" RssAnon) pd_rss=$(rss "$pd_pid" RssAnon)
echo "monitor-rss-private.swctr $sw_rss KiB"
echo "monitor-rss-private.podman-conmon $pd_rss KiB"
echo "monitor-rss-total.swctr $(rss "$sw_pid" VmRSS) KiB"
echo "monitor-rss-total.podman-conmon $(rss "$pd_pid" VmRSS) KiB"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
echo "ratio podman/swctr lifecycle $(ratio "$pd_cycle" "$sw_cycle")x"
echo "ratio podman/swctr ps-$CONTAINERS $(ratio "$pd_ps" "$sw_ps")x"
echo "ratio conmon/swctr-monitor private rss $(ratio "$pd_rss" "$sw_rss")x"
