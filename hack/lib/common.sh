# shellcheck shell=bash
# Shared shell helpers for hack/lab, hack/test and the lab component scripts.
# Sourced, never executed.

FLYWHEEL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../versions.env
. "$FLYWHEEL_ROOT/hack/versions.env"

# Built binaries, images and virtualenvs outlive a clone: they are keyed by version,
# so a fresh clone on the same machine starts warm.
FLYWHEEL_CACHE=${FLYWHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glorious-flywheel}
# Runtime state of the lab (data dirs, logs, pids, kubeconfig, env file) stays with the
# checkout it belongs to, and is git-ignored.
FLYWHEEL_LAB_DIR=${FLYWHEEL_LAB_DIR:-$FLYWHEEL_ROOT/.lab}
FLYWHEEL_BIN=$FLYWHEEL_LAB_DIR/bin
export FLYWHEEL_ROOT FLYWHEEL_CACHE FLYWHEEL_LAB_DIR FLYWHEEL_BIN

log() { printf '[%s] %s\n' "${FLYWHEEL_COMPONENT:-lab}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs Debian packages that are missing; a no-op when all are present.
ensure_debs() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ -z "${FLYWHEEL_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    FLYWHEEL_APT_UPDATED=1
  fi
  # Another apt run (a parallel job, unattended upgrades) holds the lock for a while at most.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# go_install_cached NAME VERSION PACKAGE@VERSION: builds a Go command once into
# $FLYWHEEL_CACHE/NAME-VERSION and links it into the lab's bin dir.
go_install_cached() {
  local name=$1 version=$2 package=$3 dir=$FLYWHEEL_CACHE/$1-$2
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version (first run only)"
    mkdir -p "$dir.tmp"
    GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "$package" || die "go install $package failed"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  mkdir -p "$FLYWHEEL_BIN"
  ln -sfn "$dir/$name" "$FLYWHEEL_BIN/$name"
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND once a second.
wait_for() {
  local what=$1 seconds=$2 i
  shift 2
  for ((i = 0; i < seconds; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "timed out after ${seconds}s waiting for $what"
}

# Process supervision for lab daemons: pid files and logs under the lab dir.
start_daemon() {
  local name=$1
  shift
  mkdir -p "$FLYWHEEL_LAB_DIR/run" "$FLYWHEEL_LAB_DIR/log"
  if daemon_running "$name"; then return 0; fi
  setsid "$@" >"$FLYWHEEL_LAB_DIR/log/$name.log" 2>&1 < /dev/null &
  echo $! >"$FLYWHEEL_LAB_DIR/run/$name.pid"
}

daemon_running() {
  local pidfile=$FLYWHEEL_LAB_DIR/run/$1.pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop_daemon() {
  local name=$1 pidfile=$FLYWHEEL_LAB_DIR/run/$1.pid pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Appends KEY=VALUE to the lab env file that `hack/lab env` prints and tests read.
# Locked: hack/test runs molecule lanes side by side, each of which may bring lab
# components up and record their settings here.
env_put() {
  local file=$FLYWHEEL_LAB_DIR/env
  mkdir -p "$FLYWHEEL_LAB_DIR"
  touch "$file"
  (
    flock 9
    grep -v "^$1=" "$file" >"$file.tmp.$$" || true
    printf '%s=%s\n' "$1" "$2" >>"$file.tmp.$$"
    mv "$file.tmp.$$" "$file"
  ) 9>"$file.lock"
}
