#!/usr/bin/env bash
# setup-test-host.sh - prepare this machine for swctr's tests; prints the env file's path last.
#
# As root (CI): installs the Debian packages the build and tests need (only when one is missing),
# creates the unprivileged user swctr-test with subordinate ids 200000-265535, makes /dev/fuse and
# /dev/net/tun 0666 (as a typical distro has them), builds the test images (make-test-images.py),
# starts the loopback registries and the token server (test-registry.sh), checks that the tampered
# registry really serves bytes that do not match their digests and that the basic and token
# registries let in the test user and nobody else, and writes /var/tmp/swctr-test/env.
# As an ordinary user: changes nothing that needs root, says per missing requirement what would
# ("needs root: ..."), builds what it can (everything but test/debian, unless root's cached
# debootstrap layer is readable), starts its own registries when docker-registry is installed, and
# writes ${TMPDIR:-/tmp}/swctr-test-UID/env with SWCTR_TEST_USER=$USER.
#
# The env file holds KEY=VALUE lines:
#   SWCTR_TEST_USER               user to run rootless tests as
#   SWCTR_TEST_REGISTRY           127.0.0.1:PORT, plain HTTP, test/* images (read-write)
#   SWCTR_TEST_TAMPERED_REGISTRY  127.0.0.1:PORT, read-only copy with a corrupted test/busybox layer
#                                 blob and a corrupted test/plain manifest (digests no longer match)
#   SWCTR_TEST_BASIC_REGISTRY     127.0.0.1:PORT, the test images behind HTTP Basic auth (read-write)
#   SWCTR_TEST_TOKEN_REGISTRY     127.0.0.1:PORT, the test images behind Docker token auth (bearer
#                                 tokens from SWCTR_TEST_TOKEN_SERVER; anonymous ones grant nothing)
#   SWCTR_TEST_TOKEN_SERVER       127.0.0.1:PORT of that token server (GET /token?service=&scope=)
#   SWCTR_TEST_SECOND_REGISTRY    127.0.0.1:PORT, empty, read-write: a push target
#   SWCTR_TEST_REGISTRY_USER      user name for the basic and token registries
#   SWCTR_TEST_REGISTRY_PASSWORD  its password
#   SWCTR_TEST_IMAGES             comma-separated repositories present in the good, tampered, basic
#                                 and token registries
# (registry lines are left out when no registry could be started; the auth lines when that
# registry could not be). Diagnostics go to stderr; stdout is only the env file's path:
# env_file=$(bash scripts/setup-test-host.sh | tail -n1)
# Re-runs take about a second. SWCTR_TEST_STATE overrides the state directory.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
SELF=$(basename "$0")
PKGS=(uidmap docker-registry busybox-static debootstrap python3 libarchive-dev libcurl4-openssl-dev
      nettle-dev zlib1g-dev libzstd-dev fuse3 libfuse3-dev libseccomp-dev libcap-dev iproute2 procps
      util-linux bsdutils libsqlite3-dev curl jq gcc libc6-dev libstdc++-12-dev libslirp-dev iperf3 zstd
      python3-cryptography podman runc)
TEST_USER=swctr-test
NOSUB_USER=swctr-nosub
SUBID_FIRST=200000 SUBID_COUNT=65536
ROOT_STATE=/var/tmp/swctr-test

log() { printf '%s: %s\n' "$SELF" "$*" >&2; }
die() { printf '%s: error: %s\n' "$SELF" "$*" >&2; exit 1; }
NEEDS=0
needs_root() { printf 'needs root: %s\n' "$*" >&2; NEEDS=$((NEEDS + 1)); }

IS_ROOT=0; [[ $(id -u) == 0 ]] && IS_ROOT=1
if [[ -n ${SWCTR_TEST_STATE:-} ]]; then STATE=$SWCTR_TEST_STATE
elif [[ $IS_ROOT == 1 ]]; then STATE=$ROOT_STATE
else STATE=${TMPDIR:-/tmp}/swctr-test-$(id -u); fi
export SWCTR_TEST_STATE=$STATE
ME=$(id -un)
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
T0=$EPOCHREALTIME

missing_pkgs() {
  local have
  have=" $(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "${PKGS[@]}" 2>/dev/null | awk '$1 == "ii" { printf "%s ", $2 }') " || true
  local p; for p in "${PKGS[@]}"; do [[ $have == *" $p "* ]] || echo "$p"; done
}

wait_for_apt() { # another apt/dpkg run (e.g. a provisioning step) holds the locks: wait, bounded
  local i
  for i in $(seq 300); do
    pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || return 0
    [[ $i == 1 ]] && log "waiting for a running apt-get/dpkg to finish"
    sleep 2
  done
  die "apt-get/dpkg still running after 10 minutes"
}

install_pkgs() {
  local miss
  mapfile -t miss < <(missing_pkgs)
  [[ ${#miss[@]} == 0 ]] && return 0
  wait_for_apt
  mapfile -t miss < <(missing_pkgs)
  [[ ${#miss[@]} == 0 ]] && return 0
  log "apt-get install ${miss[*]} (log $STATE/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$STATE/apt.log" 2>&1 || log "apt-get update reported errors (going on; see $STATE/apt.log)"
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${miss[@]}" >>"$STATE/apt.log" 2>&1 \
    || die "apt-get install ${miss[*]} failed: $(tail -n 3 "$STATE/apt.log" | tr '\n' ' ')"
  mapfile -t miss < <(missing_pkgs)
  [[ ${#miss[@]} == 0 ]] || die "still not installed after apt-get: ${miss[*]}"
}

has_subids() { # has_subids FILE USER: a range of at least SUBID_COUNT ids for USER (name or uid)
  [[ -r $1 ]] || return 1
  awk -F: -v u="$2" -v n="$(id -u "$2" 2>/dev/null)" -v c="$SUBID_COUNT" \
    '($1 == u || $1 == n) && $3 + 0 >= c { found = 1 } END { exit !found }' "$1"
}

setup_user() {
  if ! id -u "$TEST_USER" >/dev/null 2>&1; then
    log "creating user $TEST_USER"
    # SUB_*_COUNT=0: no automatic range from login.defs, the fixed one is added below
    useradd --create-home --home-dir "/home/$TEST_USER" --shell /bin/bash --user-group \
      -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$TEST_USER" || die "useradd $TEST_USER failed"
  fi
  local range=$SUBID_FIRST-$((SUBID_FIRST + SUBID_COUNT - 1)) f opt
  for f in subuid subgid; do
    touch "/etc/$f"
    grep -qx "$TEST_USER:$SUBID_FIRST:$SUBID_COUNT" "/etc/$f" && continue
    awk -F: -v u="$TEST_USER" -v a="$SUBID_FIRST" -v c="$SUBID_COUNT" \
      '$1 != u && $2 < a + c && $2 + $3 > a { exit 1 }' "/etc/$f" \
      || log "warning: /etc/$f: another user's range overlaps $range"
    [[ $f == subuid ]] && opt=--add-subuids || opt=--add-subgids
    usermod "$opt" "$range" "$TEST_USER" || die "usermod $opt $range $TEST_USER failed"
    log "/etc/$f: added $TEST_USER:$SUBID_FIRST:$SUBID_COUNT"
  done
  # A second user with no subordinate ids: the single-id fallback is tested as this user.
  if ! id -u "$NOSUB_USER" >/dev/null 2>&1; then
    log "creating user $NOSUB_USER (no subordinate ids)"
    useradd --create-home --home-dir "/home/$NOSUB_USER" --shell /bin/bash --user-group \
      -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$NOSUB_USER" || die "useradd $NOSUB_USER failed"
  fi
  for f in subuid subgid; do
    if grep -q "^$NOSUB_USER:" "/etc/$f"; then
      sed -i "/^$NOSUB_USER:/d" "/etc/$f"
    fi
  done
}

check_as_user() { # report, do not fix
  local miss
  mapfile -t miss < <(missing_pkgs)
  [[ ${#miss[@]} == 0 ]] || needs_root "apt-get install --no-install-recommends ${miss[*]}"
  local f opt
  for f in subuid subgid; do
    [[ $f == subuid ]] && opt=--add-subuids || opt=--add-subgids
    has_subids "/etc/$f" "$ME" \
      || needs_root "/etc/$f has no range for $ME: sudo usermod $opt $SUBID_FIRST-$((SUBID_FIRST + SUBID_COUNT - 1)) $ME"
  done
  for f in /dev/fuse /dev/net/tun; do
    [[ -e $f && ! ( -r $f && -w $f ) ]] && needs_root "$f is not read-writable by $ME: sudo chmod 0666 $f"
  done
  return 0
}

curl_sum() { # curl_sum URL [ACCEPT [CURL-ARGS...]] -> "HTTPCODE SIZE sha256:HEX" of the body
  local tmp code url=$1 accept=${2:-*/*}
  shift; [[ $# -gt 0 ]] && shift
  tmp=$(mktemp)
  code=$(curl -s --noproxy '*' --max-time 60 -o "$tmp" -w '%{http_code}' -H "Accept: $accept" "$@" "$url") || code=000
  echo "$code $(stat -c %s "$tmp") sha256:$(sha256sum <"$tmp" | cut -d' ' -f1)"
  rm -f "$tmp"
}

verify_tampered() { # verify_tampered GOOD TAMPERED: the tampered registry serves mismatching bytes
  local good=$1 bad=$2 blob manifest mt url what digest gc gs gd tc ts td
  read -r blob manifest mt < <("$PY" -c 'import json, sys
t = json.load(open(sys.argv[1]))["tampered"]
print(t["blob"], t["manifest"], t["manifest_media_type"])' "$STATE/images.json")
  for what in "blob test/busybox/blobs/$blob $blob" "manifest-by-tag test/plain/manifests/latest $manifest" \
              "manifest-by-digest test/plain/manifests/$manifest $manifest"; do
    read -r what url digest <<<"$what"
    read -r gc gs gd <<<"$(curl_sum "http://$good/v2/$url" "$mt")"
    read -r tc ts td <<<"$(curl_sum "http://$bad/v2/$url" "$mt")"
    [[ $gc == 200 && $gd == "$digest" ]] || die "good registry: $url gave HTTP $gc, $gd (expected $digest)"
    [[ $tc == 200 ]] || die "tampered registry refuses to serve $url (HTTP $tc): the tampering must be done differently"
    [[ $td != "$digest" ]] || die "tampered registry serves the original bytes of $url"
    [[ $ts == "$gs" ]] || die "tampered $url has $ts bytes, the original $gs: same size expected"
  done
  log "tampered registry $bad checked: busybox layer blob and test/plain manifest (tag, digest) do not match their digests"
}

code_of() { # code_of URL [CURL-ARGS...] -> the HTTP status of a GET
  local url=$1; shift
  curl -s --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}

verify_auth() { # verify_auth BASIC TOKEN TOKEN_SERVER USER PASSWORD: only USER gets in, with the right bytes
  local basic=$1 treg=$2 ts=$3 user=$4 pw=$5 digest mt url got code tok chal realm service scope
  read -r digest mt < <("$PY" -c 'import json, sys
i = json.load(open(sys.argv[1]))["images"]["test/busybox:latest"]
print(i["digest"], i["mediaType"])' "$STATE/images.json")
  url=/v2/test/busybox/manifests/latest
  if [[ -n $basic ]]; then
    code=$(code_of "http://$basic$url" -H "Accept: $mt")
    [[ $code == 401 ]] || die "basic registry $basic: $url without credentials gave HTTP $code, not 401"
    code=$(code_of "http://$basic$url" -H "Accept: $mt" -u "$user:wrong-$pw")
    [[ $code == 401 ]] || die "basic registry $basic: $url with a wrong password gave HTTP $code, not 401"
    read -r code _ got <<<"$(curl_sum "http://$basic$url" "$mt" -u "$user:$pw")"
    [[ $code == 200 && $got == "$digest" ]] || die "basic registry $basic: $url as $user gave HTTP $code, $got (expected $digest)"
    log "basic registry $basic checked: 401 without or with wrong credentials, test/busybox as $user"
  fi
  if [[ -n $treg ]]; then
    # the registry's challenge names the realm (the token server), the service and the scope
    chal=$(curl -s --noproxy '*' --max-time 10 -o /dev/null -D - -H "Accept: $mt" "http://$treg$url" \
      | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer //p')
    realm=$(sed -n 's/.*realm="\([^"]*\)".*/\1/p' <<<"$chal")
    service=$(sed -n 's/.*service="\([^"]*\)".*/\1/p' <<<"$chal")
    scope=$(sed -n 's/.*scope="\([^"]*\)".*/\1/p' <<<"$chal")
    [[ $realm == "http://$ts/token" && -n $service && $scope == repository:test/busybox:pull ]] \
      || die "token registry $treg: unexpected challenge for $url: '$chal'"
    code=$(code_of "http://$ts/token?service=$service&scope=$scope" -u "$user:wrong-$pw")
    [[ $code == 401 ]] || die "token server $ts: a wrong password gave HTTP $code, not 401"
    tok=$(curl -s --noproxy '*' --max-time 10 "http://$ts/token?service=$service&scope=$scope" \
      | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])') \
      || die "token server $ts: no anonymous token"
    code=$(code_of "http://$treg$url" -H "Accept: $mt" -H "Authorization: Bearer $tok")
    [[ $code == 401 ]] || die "token registry $treg: $url with an anonymous token gave HTTP $code, not 401"
    tok=$(curl -s --noproxy '*' --max-time 10 -u "$user:$pw" "http://$ts/token?service=$service&scope=$scope" \
      | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])') \
      || die "token server $ts: no token for $user"
    read -r code _ got <<<"$(curl_sum "http://$treg$url" "$mt" -H "Authorization: Bearer $tok")"
    [[ $code == 200 && $got == "$digest" ]] || die "token registry $treg: $url with $user's token gave HTTP $code, $got (expected $digest)"
    log "token registry $treg checked (token server $ts): anonymous token refused, wrong password 401, test/busybox as $user"
  fi
}

# --------------------------------------------------------------------------- root-only steps
mkdir -p "$STATE" 2>/dev/null || die "cannot create $STATE"
[[ -w $STATE ]] || die "$STATE is not writable"
if [[ $IS_ROOT == 1 ]]; then
  chmod 0755 "$STATE"
  install_pkgs
  setup_user
  for d in /dev/fuse /dev/net/tun; do [[ -c $d ]] && chmod 0666 "$d"; done
  ENV_USER=$TEST_USER
else
  check_as_user
  ENV_USER=$ME
fi

# --------------------------------------------------------------------------- images + registries
REG='' TREG='' IMAGES='' BREG='' KREG='' KSRV='' SREG='' REG_USER='' REG_PASSWORD=''
if [[ -z $PY ]]; then
  [[ $IS_ROOT == 1 ]] && die "python3 missing after install"
  log "python3 missing: no test images, no registries"
elif ! command -v docker-registry >/dev/null; then
  [[ $IS_ROOT == 1 ]] && die "docker-registry missing after install"
  log "docker-registry missing: no registries (registry tests will be skipped)"
else
  ok=1
  bash "$HERE/test-registry.sh" start good >&2 || ok=0
  if [[ $ok == 1 ]]; then
    REG=127.0.0.1:$(<"$STATE/run/good.port")
    reuse=(); [[ $STATE != "$ROOT_STATE" && -r $ROOT_STATE/cache ]] && reuse=(--reuse-cache "$ROOT_STATE/cache")
    "$PY" "$HERE/make-test-images.py" --registry "$REG" --state "$STATE" "${reuse[@]}" || ok=0
  fi
  if [[ $ok == 1 ]]; then
    bash "$HERE/test-registry.sh" start tampered >&2 || ok=0
  fi
  if [[ $ok == 1 ]]; then
    TREG=127.0.0.1:$(<"$STATE/run/tampered.port")
    verify_tampered "$REG" "$TREG"
    IMAGES=$("$PY" -c 'import json, sys
print(",".join(sorted(k.split(":")[0] for k in json.load(open(sys.argv[1]))["images"])))' "$STATE/images.json")
    # the registries with authentication (make-test-images.py filled their storages) and the push target
    IFS=: read -r REG_USER REG_PASSWORD < <(bash "$HERE/test-registry.sh" credentials)
    for name in basic token second; do
      if bash "$HERE/test-registry.sh" start "$name" >&2; then
        case $name in
          basic) BREG=127.0.0.1:$(<"$STATE/run/basic.port") ;;
          token) KREG=127.0.0.1:$(<"$STATE/run/token.port") KSRV=127.0.0.1:$(<"$STATE/run/token-server.port") ;;
          second) SREG=127.0.0.1:$(<"$STATE/run/second.port") ;;
        esac
      else
        [[ $IS_ROOT == 1 ]] && die "the $name registry could not be started (see above)"
        log "the $name registry could not be started: the tests that need it will be skipped"
      fi
    done
    verify_auth "$BREG" "$KREG" "$KSRV" "$REG_USER" "$REG_PASSWORD"
  else
    [[ $IS_ROOT == 1 ]] && die "test images or registries failed (see above)"
    log "test images or registries failed: registry tests will be skipped"
    REG='' TREG=''
  fi
fi

# --------------------------------------------------------------------------- env file
ENV_FILE=$STATE/env
{
  echo "SWCTR_TEST_USER=$ENV_USER"
  [[ $IS_ROOT == 1 ]] && echo "SWCTR_TEST_NOSUB_USER=$NOSUB_USER"
  [[ -n $REG ]] && echo "SWCTR_TEST_REGISTRY=$REG"
  [[ -n $TREG ]] && echo "SWCTR_TEST_TAMPERED_REGISTRY=$TREG"
  [[ -n $BREG ]] && echo "SWCTR_TEST_BASIC_REGISTRY=$BREG"
  [[ -n $KREG ]] && echo "SWCTR_TEST_TOKEN_REGISTRY=$KREG"
  [[ -n $KSRV ]] && echo "SWCTR_TEST_TOKEN_SERVER=$KSRV"
  [[ -n $SREG ]] && echo "SWCTR_TEST_SECOND_REGISTRY=$SREG"
  [[ -n $BREG || -n $KREG ]] && echo "SWCTR_TEST_REGISTRY_USER=$REG_USER"
  [[ -n $BREG || -n $KREG ]] && echo "SWCTR_TEST_REGISTRY_PASSWORD=$REG_PASSWORD"
  [[ -n $IMAGES ]] && echo "SWCTR_TEST_IMAGES=$IMAGES"
  true
} >"$ENV_FILE.tmp" || die "cannot write $ENV_FILE"
chmod 0644 "$ENV_FILE.tmp"
mv -f "$ENV_FILE.tmp" "$ENV_FILE"
[[ $NEEDS == 0 ]] || log "$NEEDS requirement(s) need root (above); the tests that depend on them will fail or skip"
log "ready in $("$PY" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$T0" "$EPOCHREALTIME" 2>/dev/null || echo '?') s: $ENV_FILE"
echo "$ENV_FILE"
