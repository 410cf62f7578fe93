#!/usr/bin/env bash
# test-registry.sh start|stop|status [NAME]... | credentials
#
# Runs the loopback registries the tests pull from, with Debian's docker-registry (distribution 2.8),
# and the token server of the `token` one:
#   good          read-write, storage STATE/registry/good     (preferred port 5411)
#   tampered      read-only,  storage STATE/registry/tampered (preferred port 5412; a copy of the good
#                 storage with a corrupted layer blob and manifest, made by make-test-images.py)
#   basic         read-write, storage STATE/registry/basic    (preferred port 5413); HTTP Basic auth
#                 (htpasswd, bcrypt) for every request, /v2/ included
#   token         read-write, storage STATE/registry/token    (preferred port 5414); Docker token auth:
#                 bearer tokens from token-server, anonymous tokens grant nothing
#   second        read-write, storage STATE/registry/second   (preferred port 5415); empty, a push target
#   token-server  scripts/token-server.py (preferred port 5416): GET /token?service=&scope= with Basic
#                 credentials -> JWT (RS256, x5c = STATE/auth/token.crt, the token registry's root)
# make-test-images.py fills basic and token with the test images (blobs hard-linked from good).
# Every registry accepts schema1 manifests (compatibility.schema1) and foreign-layer URLs on
# 127.0.0.1 (validation.manifests.urls.allow), which test/schema1 and test/foreign need.
# The user and password of basic and token: `credentials` prints "USER:PASSWORD" (swctr-tester,
# swctr-s3cret); STATE/auth/htpasswd holds its bcrypt entry, made when missing.
# STATE is SWCTR_TEST_STATE, else /var/tmp/swctr-test as root, else ${TMPDIR:-/tmp}/swctr-test-UID.
# Per process, STATE/run/NAME.{pid,port,yml,log}. `start` reuses a process that is already up (same
# recorded PID, same configuration, answering) and otherwise (re)starts it (recorded port, else the
# preferred one, else any free one) in a session of its own and waits for it to answer: /v2/ with
# 200 (401 for basic and token), /health for the token server. Starting token starts token-server
# first (the token registry's realm names its port). Without a name, `start` starts good, tampered
# when its storage exists, basic, token-server, token and second. `stop` ends only the recorded
# PIDs. `status` prints "NAME running 127.0.0.1:PORT pid N" or "NAME stopped", and exits 0 only
# when the named (default: good) ones run.
set -euo pipefail

SELF=$(basename "$0")
HERE=$(dirname "$(readlink -f "$0")")
die() { printf '%s: %s\n' "$SELF" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$SELF" "$*" >&2; }

if [[ -n ${SWCTR_TEST_STATE:-} ]]; then STATE=$SWCTR_TEST_STATE
elif [[ $(id -u) == 0 ]]; then STATE=/var/tmp/swctr-test
else STATE=${TMPDIR:-/tmp}/swctr-test-$(id -u); fi
RUN=$STATE/run
AUTH=$STATE/auth
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
REG_USER=swctr-tester REG_PASSWORD=swctr-s3cret
TOKEN_SERVICE=swctr-test-token-registry TOKEN_ISSUER=swctr-test-token-server
ALL=(good tampered basic token-server token second)

storage_of() { echo "$STATE/registry/$1"; }
preferred_port() {
  case $1 in good) echo 5411;; tampered) echo 5412;; basic) echo 5413;; token) echo 5414;;
             second) echo 5415;; token-server) echo 5416;; esac
}
readonly_of() { case $1 in tampered) echo true;; *) echo false;; esac; }
conf_of() { if [[ $1 == token-server ]]; then echo "$RUN/$1.args"; else echo "$RUN/$1.yml"; fi; }

port_free() { # port_free PORT: nothing listens on 127.0.0.1:PORT and we may bind it
  "$PY" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
any_free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pid_of NAME: the recorded PID, if that process still runs our configuration: a docker-registry
# serving RUN/NAME.yml, or the token server with exactly the arguments in RUN/token-server.args
pid_of() {
  local f=$RUN/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  if [[ $1 == token-server ]]; then
    [[ -f $RUN/$1.args && $(tr '\0' '\n' <"/proc/$pid/cmdline") == "$(<"$RUN/$1.args")" ]] || return 1
  else
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "docker-registry serve $RUN/$1.yml" || return 1
  fi
  echo "$pid"
}
answers() { # answers NAME PORT: GET /v2/ gives 200 (401 where every request needs auth); /health 200
  local path=/v2/ want=200
  case $1 in basic|token) want=401;; token-server) path=/health;; esac
  [[ $(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$2$path" 2>/dev/null) == "$want" ]]
}

ensure_htpasswd() { # STATE/auth/htpasswd: REG_USER with a bcrypt hash of REG_PASSWORD (cost 5: fast)
  mkdir -p "$AUTH"
  "$PY" - "$AUTH/htpasswd" "$REG_USER" "$REG_PASSWORD" <<'PY' || die "cannot write $AUTH/htpasswd"
import os, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt
path, user, password = sys.argv[1:4]
try:
    for line in open(path):
        u, _, h = line.strip().partition(":")
        if u == user and h.startswith("$2") and crypt.crypt(password, h) == h:
            sys.exit(0)
except OSError:
    pass
h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
if not h or not h.startswith("$2"):
    sys.exit("this python's crypt cannot make bcrypt hashes")
with open(path + ".tmp", "w") as f:
    f.write("%s:%s\n" % (user, h))
os.chmod(path + ".tmp", 0o644)
os.rename(path + ".tmp", path)
print("made %s (user %s)" % (path, user), file=sys.stderr)
PY
}

config_of() { # config_of NAME PORT: what conf_of NAME should hold
  if [[ $1 == token-server ]]; then   # its command line, one argument per line
    printf '%s\n' "$PY" "$HERE/token-server.py" --listen "127.0.0.1:$2" --htpasswd "$AUTH/htpasswd" \
      --key "$AUTH/token.key" --cert "$AUTH/token.crt" --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE"
    return
  fi
  cat <<YML
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
compatibility:
  schema1:
    enabled: true
validation:
  manifests:
    urls:
      allow:
        - '^https?://127\.0\.0\.1(:[0-9]+)?/'
YML
  case $1 in
    basic) cat <<YML
auth:
  htpasswd:
    realm: swctr-test
    path: $AUTH/htpasswd
# htpasswd $(sha256sum <"$AUTH/htpasswd" | cut -c1-16)
YML
    ;;
    token) cat <<YML
auth:
  token:
    realm: http://127.0.0.1:$(<"$RUN/token-server.port")/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $AUTH/token.crt
# rootcertbundle $(sha256sum <"$AUTH/token.crt" | cut -c1-16)
YML
    ;;
  esac
}

launch() { # launch NAME: start it in a session of its own, stdio on files (it outlives this script)
  local argv
  if [[ $1 == token-server ]]; then mapfile -t argv <"$RUN/$1.args"; else argv=(docker-registry serve "$RUN/$1.yml"); fi
  "$PY" -c 'import subprocess, sys
log = open(sys.argv[1], "ab")
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                     start_new_session=True, close_fds=True)
print(p.pid)' "$RUN/$1.log" "${argv[@]}"
}

start_one() {
  local name=$1 pid port try what=" registry"
  [[ $name == token-server ]] && what=
  case $name in
    basic) ensure_htpasswd ;;
    token) ensure_htpasswd; start_one token-server ;;
    token-server) ensure_htpasswd ;;
  esac
  if pid=$(pid_of "$name"); then
    port=$(<"$RUN/$name.port")
    if [[ $(config_of "$name" "$port") == "$(<"$(conf_of "$name")")" ]]; then
      for _ in $(seq 50); do answers "$name" "$port" && return 0; sleep 0.1; done
      die "$name$what (pid $pid) runs but does not answer on 127.0.0.1:$port; see $RUN/$name.log"
    fi
    note "$name$what (pid $pid): configuration changed, restarting it"
    stop_one "$name"
  fi
  if [[ $name == token-server ]]; then
    [[ -f $HERE/token-server.py ]] || die "$HERE/token-server.py missing"
  else
    [[ -d $(storage_of "$name") ]] || die "$name registry: no storage at $(storage_of "$name")"
    command -v docker-registry >/dev/null || die "docker-registry not installed (apt-get install docker-registry)"
  fi
  [[ -n $PY ]] || die "python3 not found"
  for try in 1 2 3; do
    port=
    if [[ $try == 1 ]]; then   # the port used last time, else the preferred one, else any free one
      [[ -f $RUN/$name.port ]] && port=$(<"$RUN/$name.port")
      [[ -n $port ]] && ! port_free "$port" && port=
      [[ -z $port ]] && port_free "$(preferred_port "$name")" && port=$(preferred_port "$name")
    fi
    [[ -n $port ]] || port=$(any_free_port)
    config_of "$name" "$port" >"$(conf_of "$name")"
    pid=$(launch "$name")
    echo "$pid" >"$RUN/$name.pid"; echo "$port" >"$RUN/$name.port"
    for _ in $(seq 100); do
      answers "$name" "$port" && { note "$name$what up on 127.0.0.1:$port (pid $pid)"; return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    note "$name$what did not come up on port $port (try $try): $(tail -n 2 "$RUN/$name.log" | tr '\n' ' ' | cut -c1-200)"
  done
  rm -f "$RUN/$name.pid"
  die "$name$what could not be started; see $RUN/$name.log"
}

stop_one() {
  local name=$1 pid what=" registry"
  [[ $name == token-server ]] && what=
  if pid=$(pid_of "$name"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; }
    note "$name$what stopped (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

status_one() {
  local name=$1 pid
  if pid=$(pid_of "$name") && answers "$name" "$(<"$RUN/$name.port")"; then
    echo "$name running 127.0.0.1:$(<"$RUN/$name.port") pid $pid"
  else
    echo "$name stopped"; return 1
  fi
}

cmd=${1:-}; [[ $# -gt 0 ]] && shift
names=("$@")
for n in "${names[@]}"; do
  [[ " ${ALL[*]} " == *" $n "* ]] || die "unknown name '$n' (${ALL[*]})"
done
case $cmd in
  start)
    mkdir -p "$RUN" "$(storage_of good)" "$(storage_of basic)" "$(storage_of token)" "$(storage_of second)"
    if [[ ${#names[@]} == 0 ]]; then
      names=(good); [[ -d $(storage_of tampered) ]] && names+=(tampered)
      names+=(basic token-server token second)
    fi
    for n in "${names[@]}"; do start_one "$n"; done
    for n in "${names[@]}"; do status_one "$n"; done ;;
  stop)
    [[ ${#names[@]} == 0 ]] && names=(good tampered basic token second token-server)
    for n in "${names[@]}"; do stop_one "$n"; done ;;
  status)
    [[ ${#names[@]} == 0 ]] && names=("${ALL[@]}")
    rc=0
    for n in "${names[@]}"; do status_one "$n" || { [[ $n == good || $# -gt 0 ]] && rc=3; }; done
    exit $rc ;;
  credentials)
    echo "$REG_USER:$REG_PASSWORD" ;;
  *) die "usage: $SELF start|stop|status [${ALL[*]}]... | credentials" ;;
esac
