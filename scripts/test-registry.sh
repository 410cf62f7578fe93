#!/usr/bin/env bash
# test-registry.sh start|stop|status [good|tampered]...
#
# Runs the loopback registries the tests pull from, with Debian's docker-registry (distribution 2.8):
#   good      read-write, storage STATE/registry/good     (preferred port 5411)
#   tampered  read-only,  storage STATE/registry/tampered (preferred port 5412; a copy of the good
#             storage with a corrupted layer blob and manifest, made by make-test-images.py)
# STATE is SWCTR_TEST_STATE, else /var/tmp/swctr-test as root, else ${TMPDIR:-/tmp}/swctr-test-UID.
# Per registry, STATE/run/NAME.{pid,port,yml,log}. `start` reuses a registry that is already up (same
# recorded PID, /v2/ answering) and otherwise starts it (recorded port, else the preferred one, else
# any free one) and waits for /v2/ to answer. Without a name, `start` starts good, and tampered when
# its storage exists. `stop` ends only the recorded PIDs. `status` prints "NAME running 127.0.0.1:PORT
# pid N" or "NAME stopped", and exits 0 only when the named (default: good) registries run.
set -euo pipefail

SELF=$(basename "$0")
die() { printf '%s: %s\n' "$SELF" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$SELF" "$*" >&2; }

if [[ -n ${SWCTR_TEST_STATE:-} ]]; then STATE=$SWCTR_TEST_STATE
elif [[ $(id -u) == 0 ]]; then STATE=/var/tmp/swctr-test
else STATE=${TMPDIR:-/tmp}/swctr-test-$(id -u); fi
RUN=$STATE/run
PY=$(command -v /usr/bin/python3 || command -v python3 || true)

storage_of() { echo "$STATE/registry/$1"; }
preferred_port() { case $1 in good) echo 5411;; tampered) echo 5412;; esac; }
readonly_of() { case $1 in good) echo false;; tampered) echo true;; esac; }

port_free() { # port_free PORT: nothing listens on 127.0.0.1:PORT and we may bind it
  "$PY" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
any_free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pid_of NAME: the recorded PID, if that process is still a docker-registry serving our config
pid_of() {
  local f=$RUN/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "docker-registry serve $RUN/$1.yml" || return 1
  echo "$pid"
}
answers() { # answers PORT: GET /v2/ gives 200
  [[ $(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/v2/" 2>/dev/null) == 200 ]]
}

write_config() { # write_config NAME PORT
  cat >"$RUN/$1.yml" <<YML
# written by scripts/test-registry.sh
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $(storage_of "$1")
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: $(readonly_of "$1")
http:
  addr: 127.0.0.1:$2
YML
}

start_one() {
  local name=$1 pid port try
  if pid=$(pid_of "$name"); then
    port=$(<"$RUN/$name.port")
    for _ in $(seq 50); do answers "$port" && return 0; sleep 0.1; done
    die "$name registry (pid $pid) runs but http://127.0.0.1:$port/v2/ does not answer; see $RUN/$name.log"
  fi
  [[ -d $(storage_of "$name") ]] || die "$name registry: no storage at $(storage_of "$name")"
  command -v docker-registry >/dev/null || die "docker-registry not installed (apt-get install docker-registry)"
  [[ -n $PY ]] || die "python3 not found"
  for try in 1 2 3; do
    port=
    if [[ $try == 1 ]]; then   # the port used last time, else the preferred one, else any free one
      [[ -f $RUN/$name.port ]] && port=$(<"$RUN/$name.port")
      [[ -n $port ]] && ! port_free "$port" && port=
      [[ -z $port ]] && port_free "$(preferred_port "$name")" && port=$(preferred_port "$name")
    fi
    [[ -n $port ]] || port=$(any_free_port)
    write_config "$name" "$port"
    # a session of its own, stdio on files: it outlives this script and whatever started it
    pid=$("$PY" -c 'import subprocess, sys
log = open(sys.argv[2], "ab")
p = subprocess.Popen(["docker-registry", "serve", sys.argv[1]], stdin=subprocess.DEVNULL,
                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
print(p.pid)' "$RUN/$name.yml" "$RUN/$name.log")
    echo "$pid" >"$RUN/$name.pid"; echo "$port" >"$RUN/$name.port"
    for _ in $(seq 100); do
      answers "$port" && { note "$name registry up on 127.0.0.1:$port (pid $pid)"; return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    note "$name registry did not come up on port $port (try $try): $(tail -n 2 "$RUN/$name.log" | tr '\n' ' ' | cut -c1-200)"
  done
  rm -f "$RUN/$name.pid"
  die "$name registry could not be started; see $RUN/$name.log"
}

stop_one() {
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; }
    note "$name registry stopped (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

status_one() {
  local name=$1 pid
  if pid=$(pid_of "$name") && answers "$(<"$RUN/$name.port")"; then
    echo "$name running 127.0.0.1:$(<"$RUN/$name.port") pid $pid"
  else
    echo "$name stopped"; return 1
  fi
}

cmd=${1:-}; [[ $# -gt 0 ]] && shift
names=("$@")
for n in "${names[@]}"; do [[ $n == good || $n == tampered ]] || die "unknown registry '$n' (good|tampered)"; done
case $cmd in
  start)
    mkdir -p "$RUN" "$(storage_of good)"
    if [[ ${#names[@]} == 0 ]]; then
      names=(good); [[ -d $(storage_of tampered) ]] && names+=(tampered)
    fi
    for n in "${names[@]}"; do start_one "$n"; done
    for n in "${names[@]}"; do status_one "$n"; done ;;
  stop)
    [[ ${#names[@]} == 0 ]] && names=(good tampered)
    for n in "${names[@]}"; do stop_one "$n"; done ;;
  status)
    [[ ${#names[@]} == 0 ]] && names=(good tampered)
    rc=0
    for n in "${names[@]}"; do status_one "$n" || { [[ $n == good || $# -gt 0 ]] && rc=3; }; done
    exit $rc ;;
  *) die "usage: $SELF start|stop|status [good|tampered]..." ;;
esac
