# bench-prepare.sh - sourced by the bench-*.sh scripts: messages, the swctr binary to measure,
# and (as root) the anchors' packages and the unprivileged bench user.
#   bench_prepare ANCHOR_SCRIPT BINARY   sets $bin (absolute), checks ANCHOR_SCRIPT is readable,
#                                        installs BENCH_PKGS when missing (as root), creates
#                                        $BENCH_USER with setup-test-host.sh when missing.
# Needs SELF, HERE, BENCH_USER and BENCH_PKGS set by the caller.
die() { printf '%s: error: %s\n' "$SELF" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$SELF" "$*" >&2; }

bench_prepare() {
  local anchor=$1 p missing=()
  bin=${2:-${SWCTR:-}}
  [[ -n $bin ]] || die "no swctr binary given: $SELF PATH/TO/swctr (or SWCTR=...)"
  [[ -f $bin && -x $bin ]] || die "swctr binary '$bin' is missing or not executable: build it first"
  bin=$(readlink -f "$bin")
  [[ -r $anchor ]] || die "$anchor not found: ../shared must sit beside the repository"
  for p in "${BENCH_PKGS[@]}"; do
    [[ $(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null) == "ii "* ]] || missing+=("$p")
  done
  if [[ $(id -u) == 0 ]]; then
    if [[ ${#missing[@]} -gt 0 ]]; then
      log "apt-get install ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null 2>&1 || log "apt-get update reported errors (going on)"
      apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    fi
    id -u "$BENCH_USER" >/dev/null 2>&1 || bash "$HERE/setup-test-host.sh" >/dev/null \
      || die "setup-test-host.sh failed (it creates $BENCH_USER)"
    runuser -u "$BENCH_USER" -- test -x "$bin" \
      || die "$BENCH_USER cannot execute $bin (is every parent directory world-searchable?)"
  else
    [[ ${#missing[@]} == 0 ]] || die "missing packages; as root: apt-get install --no-install-recommends ${missing[*]}"
  fi
}
