#!/usr/bin/env bash
# vm-cgroup-tests.sh - run by scripts/test-vm.sh inside the guest, as 'tester' in a logind session
# (cgroup v2 only; user@1000.service delegated cpu memory pids). /mnt/host holds swctr, this script
# and busybox.tar. Prints PASS/FAIL per behaviour; exits 1 if any failed. Every wait is bounded.
set -u
S=/mnt/host/swctr
IMG=localhost/busybox
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# The directory of a running container's cgroup (the Cgroups module records it).
cgroup_of() { local id; id=$($S inspect -f '{{.Id}}' "$1"); echo "/sys/fs/cgroup$(head -n1 ~/.local/share/swctr/containers/"$id"/cgroup 2>/dev/null)"; }
# Waits up to $1 tenths of a second for a command to succeed.
wait_for() { local tries=$1; shift; while [ "$tries" -gt 0 ]; do "$@" && return 0; sleep 0.1; tries=$((tries - 1)); done; return 1; }

echo "guest: $(uname -r), $(stat -fc %T /sys/fs/cgroup), delegated: $(cat /sys/fs/cgroup/user.slice/user-$(id -u).slice/user@$(id -u).service/cgroup.controllers)"
$S import /mnt/host/busybox.tar $IMG >/dev/null || { echo "FAIL: import busybox"; exit 1; }
N="--network none"

# --memory: a process allocating 64 MiB under 32 MiB (no swap) is OOM-killed: exit 137, OOMKilled.
$S run --name oom $N --memory 32m --memory-swap 32m $IMG dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null
code=$?
oom=$($S inspect -f '{{.State.OOMKilled}}' oom)
[ "$code" = 137 ] && [ "$oom" = true ] && pass "--memory 32m: 64 MiB allocation ends with exit 137, OOMKilled true" \
    || fail "--memory 32m: exit $code (want 137), OOMKilled $oom (want true)"
$S rm oom >/dev/null
$S run --rm $N --memory 32m $IMG dd if=/dev/zero of=/dev/null bs=8M count=1 2>/dev/null \
    && pass "--memory 32m: an 8 MiB allocation runs" || fail "--memory 32m: an 8 MiB allocation failed"
inside=$($S run --rm $N --memory 32m $IMG sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max' | tr '\n' ' ')
[ "$inside" = "0::/ $((32 << 20)) " ] && pass "inside: its own cgroup is the namespace root, memory.max visible ($inside)" \
    || fail "inside the container: $inside"

# --pids-limit: a fork bomb stops at 20.
# (busybox sh ends when a fork fails, so the bomb is a subshell and the container's sh stays.)
$S run -d --name bomb $N --pids-limit 20 $IMG sh -c '(while :; do sleep 120 & done) 2>/dev/null; sleep 120' >/dev/null
dir=$(cgroup_of bomb)
wait_for 100 grep -q "max [1-9]" "$dir/pids.events"
current=$(cat "$dir/pids.current"); limit=$(cat "$dir/pids.max"); events=$(cat "$dir/pids.events")
[ "$limit" = 20 ] && [ "$current" -le 20 ] && [ "$current" -ge 18 ] && pass "--pids-limit 20: fork bomb held at $current/$limit ($events)" \
    || fail "--pids-limit 20: pids.current $current, pids.max $limit, $events"
stats=$($S stats --no-stream bomb)
echo "$stats" | sed 's/^/    /'
echo "$stats" | grep -q "bomb .*MB / .* / 20$" && pass "stats shows memory use/limit and pids N / 20" || fail "stats: $stats"
streamed=$(timeout 4 $S stats bomb | grep -c "bomb ")
[ "$streamed" -ge 2 ] && pass "stats streams (a reading a second: $streamed in 4 s)" || fail "stats streaming: $streamed readings"
$S update --pids-limit 40 --memory 48m bomb >/dev/null
[ "$(cat "$dir/pids.max")" = 40 ] && [ "$(cat "$dir/memory.max")" = $((48 << 20)) ] \
    && pass "update --pids-limit 40 --memory 48m: pids.max $(cat "$dir/pids.max"), memory.max $(cat "$dir/memory.max") live" \
    || fail "update: pids.max $(cat "$dir/pids.max"), memory.max $(cat "$dir/memory.max")"
$S stats --no-stream bomb | grep -q "bomb.* / 40" && pass "stats shows the new pids limit" || fail "stats after update: $($S stats --no-stream bomb)"
id=$($S inspect -f '{{.Id}}' bomb)
$S rm -f bomb >/dev/null
wait_for 50 sh -c "! find /sys/fs/cgroup -name '*${id:0:12}*' | grep -q ." \
    && pass "rm -f leaves no cgroup behind" || fail "rm -f left: $(find /sys/fs/cgroup -name "*${id:0:12}*")"

# --cpus 0.5: a busy loop near 50% of a CPU, from cpu.stat over 3 s.
$S run -d --name busy $N --cpus 0.5 $IMG sh -c 'while :; do :; done' >/dev/null
dir=$(cgroup_of busy)
sleep 1
u1=$(awk '/^usage_usec/{print $2}' "$dir/cpu.stat"); t1=$(date +%s%N)
sleep 3
u2=$(awk '/^usage_usec/{print $2}' "$dir/cpu.stat"); t2=$(date +%s%N)
percent=$(( (u2 - u1) * 100000 / ((t2 - t1) / 1000) / 1000 ))
[ "$(cat "$dir/cpu.max")" = "50000 100000" ] && [ "$percent" -ge 40 ] && [ "$percent" -le 60 ] \
    && pass "--cpus 0.5: busy loop at ${percent}% (cpu.max $(cat "$dir/cpu.max"))" || fail "--cpus 0.5: ${percent}%, cpu.max $(cat "$dir/cpu.max")"
$S rm -f busy >/dev/null

# pause/unpause: a counter stops and goes on.
$S run -d --name counter $N $IMG sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done' >/dev/null
sleep 1
$S pause counter >/dev/null
paused=$($S inspect -f '{{.State.Paused}}' counter)
a=$($S logs counter | tail -n1); sleep 1; b=$($S logs counter | tail -n1)
$S unpause counter >/dev/null
sleep 1; c=$($S logs counter | tail -n1)
[ "$paused" = true ] && [ "$a" = "$b" ] && [ "$c" -gt "$b" ] && pass "pause froze the counter at $a (Paused $paused), unpause resumed it ($c)" \
    || fail "pause/unpause: paused=$paused counter $a -> $b while paused, $c after"
$S rm -f counter >/dev/null

# A controller user@.service does not delegate here (cpuset): a clear error before anything starts.
out=$($S run --rm $N --cpuset-cpus 0 $IMG true 2>&1); code=$?
[ "$code" = 125 ] && echo "$out" | grep -q "cpuset controller delegated to you; user@$(id -u).service has only cpu memory pids" \
    && pass "--cpuset-cpus without cpuset delegated: exit 125, says what is missing" || fail "--cpuset-cpus: exit $code: $out"

# No limits: a container still runs (in a cgroup of its own), and leaves none behind.
out=$($S run --rm $N $IMG sh -c 'cat /proc/self/cgroup'); code=$?
[ "$code" = 0 ] && pass "a container without limits runs ($out)" || fail "plain run: exit $code $out"
left=$(find /sys/fs/cgroup -name 'swctr-*' 2>/dev/null)
wait_for 50 sh -c "! find /sys/fs/cgroup -name 'swctr-*' | grep -q ." && pass "no swctr cgroups left at the end" || fail "left behind: $left"

echo "$((failures)) failed"
[ "$failures" = 0 ]
