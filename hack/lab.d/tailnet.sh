# shellcheck shell=bash
# The tailnet peers: a Headscale control server and one userspace tailscaled node, all on
# loopback. Sourced by hack/lab after hack/lib/common.sh; defines tailnet_up, tailnet_down,
# tailnet_status, and tailnet_node_start/tailnet_node_stop for extra nodes (tests use them
# through tests/lab/tailnet_nodes.py).

TAILNET_DIR=$FLYWHEEL_LAB_DIR/tailnet
# Fixed loopback ports, away from the kube peers' well-known ones; override when they clash.
HEADSCALE_PORT=${FLYWHEEL_HEADSCALE_PORT:-18080}
HEADSCALE_METRICS_PORT=${FLYWHEEL_HEADSCALE_METRICS_PORT:-18090}
HEADSCALE_GRPC_PORT=${FLYWHEEL_HEADSCALE_GRPC_PORT:-18443}
HEADSCALE_STUN_PORT=${FLYWHEEL_HEADSCALE_STUN_PORT:-13478}
HEADSCALE_URL=http://127.0.0.1:$HEADSCALE_PORT
HEADSCALE_CONFIG=$TAILNET_DIR/headscale.yaml
HEADSCALE_API_KEY_FILE=$TAILNET_DIR/headscale-api-key
HEADSCALE_LAB_USER=lab
LAB_NODE=lab-node
TAILNET_ENV_KEYS=(HEADSCALE_URL HEADSCALE_API_KEY HEADSCALE_API_KEY_FILE HEADSCALE_VERSION
  HEADSCALE_BIN HEADSCALE_CONFIG HEADSCALE_USER TAILSCALE_VERSION TAILSCALE_BIN TAILSCALED_BIN
  LAB_TAILSCALE_SOCKET)

# Unix socket paths are limited to 108 bytes: a deep checkout gets its sockets in a short
# per-checkout directory under /tmp instead of the lab dir.
tailnet_socket_dir() {
  local dir=$FLYWHEEL_LAB_DIR/run
  if [ ${#dir} -gt 80 ]; then
    dir=/tmp/flywheel-$(printf '%s' "$FLYWHEEL_LAB_DIR" | sha256sum | cut -c1-12)
  fi
  printf '%s\n' "$dir"
}

tailnet_node_socket() { printf '%s/tailscaled-%s.sock\n' "$(tailnet_socket_dir)" "$1"; }

# Builds headscale VERSION once into the cache (go_install_cached).
tailnet_build_headscale() {
  local version=$1
  if [ ! -x "$FLYWHEEL_CACHE/headscale-$version/headscale" ]; then
    # `go install m@v` looks up m's latest version to report deprecations, and the proxy
    # answers 403 to headscale's version list here. Downloading that one version first
    # and serving the module cache as the first proxy (a valid file:// proxy tree)
    # answers the lookup; everything else still comes from the configured proxy.
    # The checksum database answers 404 for tailsql (a dependency of some versions);
    # go.sum still verifies it.
    go mod download "github.com/juanfont/headscale@v$version" \
      || die "go mod download github.com/juanfont/headscale@v$version failed"
    GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" \
      GONOSUMDB=github.com/tailscale/tailsql \
      go_install_cached headscale "$version" "github.com/juanfont/headscale/cmd/headscale@v$version"
  fi
}

# The other headscale versions whose API shapes the tailnet modules speak; tests
# start throw-away servers from them (tests/lab/headscale_servers.py).
tailnet_build_compat_headscales() {
  local version
  for version in $HEADSCALE_COMPAT_VERSIONS; do tailnet_build_headscale "$version"; done
}

tailnet_install() {
  ensure_debs curl jq
  tailnet_build_headscale "$HEADSCALE_VERSION"
  # Warm runs (and the cold one, again) only link the cached binaries into the lab's bin dir.
  go_install_cached headscale "$HEADSCALE_VERSION" "github.com/juanfont/headscale/cmd/headscale@v$HEADSCALE_VERSION"
  go_install_cached tailscale "$TAILSCALE_VERSION" "tailscale.com/cmd/tailscale@v$TAILSCALE_VERSION"
  go_install_cached tailscaled "$TAILSCALE_VERSION" "tailscale.com/cmd/tailscaled@v$TAILSCALE_VERSION"
}

tailnet_write_headscale_config() {
  mkdir -p "$TAILNET_DIR" "$(tailnet_socket_dir)"
  cat >"$HEADSCALE_CONFIG" <<EOF
# Written by hack/lab.d/tailnet.sh on every \`hack/lab up tailnet\`; edits are overwritten.
server_url: $HEADSCALE_URL
listen_addr: 127.0.0.1:$HEADSCALE_PORT
metrics_listen_addr: 127.0.0.1:$HEADSCALE_METRICS_PORT
grpc_listen_addr: 127.0.0.1:$HEADSCALE_GRPC_PORT
grpc_allow_insecure: false
noise:
  private_key_path: $TAILNET_DIR/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
# Closed network: no external DERP map. Headscale refuses to start with an empty one, so
# its embedded DERP relay (and STUN) serves on loopback; tailscaled reaches it over plain
# HTTP because the lab starts it with TS_DEBUG_USE_DERP_HTTP=1.
derp:
  server:
    enabled: true
    region_id: 999
    region_code: lab
    region_name: Flywheel lab
    verify_clients: true
    stun_listen_addr: 127.0.0.1:$HEADSCALE_STUN_PORT
    private_key_path: $TAILNET_DIR/derp_server_private.key
    automatically_add_embedded_derp_region: true
    ipv4: 127.0.0.1
  urls: []
  paths: []
  auto_update_enabled: false
disable_check_updates: true
database:
  type: sqlite
  sqlite:
    path: $TAILNET_DIR/db.sqlite
    write_ahead_log: true
log:
  level: info
  format: text
# Database mode, so modules can manage the policy through PUT /api/v1/policy.
policy:
  mode: database
dns:
  magic_dns: true
  base_domain: tailnet.flywheel.test
  # Userspace nodes never touch the host's resolver; no global nameservers to hand out.
  override_local_dns: false
  nameservers:
    global: []
unix_socket: $(tailnet_socket_dir)/headscale.sock
unix_socket_permission: "0770"
logtail:
  enabled: false
EOF
}

headscale_cli() { "$FLYWHEEL_BIN/headscale" --config "$HEADSCALE_CONFIG" "$@"; }

headscale_healthy() { curl -fsS --max-time 2 "$HEADSCALE_URL/health" >/dev/null 2>&1; }

headscale_api_key_valid() {
  [ -s "$HEADSCALE_API_KEY_FILE" ] || return 1
  curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$HEADSCALE_API_KEY_FILE")" \
    "$HEADSCALE_URL/api/v1/apikey" >/dev/null 2>&1
}

# Ready, or gone: a port in use or a bad config ends the wait at once, not after a minute.
headscale_settled() { headscale_healthy || ! daemon_running headscale; }

tailnet_start_headscale() {
  local log_file=$FLYWHEEL_LAB_DIR/log/headscale.log
  tailnet_write_headscale_config
  start_daemon headscale "$FLYWHEEL_BIN/headscale" --config "$HEADSCALE_CONFIG" serve
  wait_for "headscale on $HEADSCALE_URL (log: $log_file)" 60 headscale_settled
  headscale_healthy || die "headscale exited; the end of $log_file:
$(tail -n 5 "$log_file")"
}

# The API key and the lab user are made once per headscale database; a restarted server
# keeps both, a wiped one (tailnet_down) gets new ones.
tailnet_ensure_credentials() {
  if ! headscale_api_key_valid; then
    log "creating a headscale API key"
    (umask 077 && headscale_cli apikeys create --expiration 365d >"$HEADSCALE_API_KEY_FILE.tmp") \
      || die "headscale apikeys create failed"
    mv "$HEADSCALE_API_KEY_FILE.tmp" "$HEADSCALE_API_KEY_FILE"
  fi
  if ! headscale_cli users list --output json | jq -e --arg name "$HEADSCALE_LAB_USER" \
    'any(.[]?; .name == $name)' >/dev/null; then
    headscale_cli users create "$HEADSCALE_LAB_USER" >/dev/null || die "headscale users create failed"
  fi
}

# tailnet_node_start NAME: starts a userspace tailscaled with its own state and socket,
# not joined to any tailnet (whoever needs it joined runs `tailscale up`). Prints the socket.
tailnet_node_start() {
  local name=$1 state_dir=$TAILNET_DIR/nodes/$1 socket
  socket=$(tailnet_node_socket "$name")
  mkdir -p "$state_dir" "$(dirname "$socket")"
  # TS_DEBUG_USE_DERP_HTTP: the lab's DERP relay is headscale's, on plain HTTP.
  # TS_DISABLE_PORTMAPPER: no UPnP/NAT-PMP probes of the host's gateway; traffic stays local.
  # TS_LOGS_DIR: otherwise tailscaled keeps its log id in /var/lib/tailscale, outside the lab.
  # --port=0: a free UDP port, so several nodes run side by side.
  start_daemon "tailscaled-$name" env TS_DEBUG_USE_DERP_HTTP=1 TS_DISABLE_PORTMAPPER=1 \
    TS_LOGS_DIR="$state_dir" \
    "$FLYWHEEL_BIN/tailscaled" --tun=userspace-networking --no-logs-no-support --port=0 \
    --statedir="$state_dir" --state="$state_dir/tailscaled.state" --socket="$socket"
  wait_for "tailscaled $name (log: $FLYWHEEL_LAB_DIR/log/tailscaled-$name.log)" 30 \
    "$FLYWHEEL_BIN/tailscale" --socket="$socket" version --daemon
  printf '%s\n' "$socket"
}

# tailnet_node_stop NAME: stops the node and forgets its state, so a name can be reused.
tailnet_node_stop() {
  stop_daemon "tailscaled-$1"
  rm -rf "${TAILNET_DIR:?}/nodes/$1"
  rm -f "$(tailnet_node_socket "$1")"
}

tailnet_up() {
  tailnet_install
  tailnet_start_headscale
  tailnet_ensure_credentials
  local lab_socket
  lab_socket=$(tailnet_node_start "$LAB_NODE")
  env_put HEADSCALE_URL "$HEADSCALE_URL"
  env_put HEADSCALE_API_KEY "$(cat "$HEADSCALE_API_KEY_FILE")"
  env_put HEADSCALE_API_KEY_FILE "$HEADSCALE_API_KEY_FILE"
  env_put HEADSCALE_VERSION "$HEADSCALE_VERSION"
  env_put HEADSCALE_BIN "$FLYWHEEL_BIN/headscale"
  env_put HEADSCALE_CONFIG "$HEADSCALE_CONFIG"
  env_put HEADSCALE_USER "$HEADSCALE_LAB_USER"
  env_put TAILSCALE_VERSION "$TAILSCALE_VERSION"
  env_put TAILSCALE_BIN "$FLYWHEEL_BIN/tailscale"
  env_put TAILSCALED_BIN "$FLYWHEEL_BIN/tailscaled"
  env_put LAB_TAILSCALE_SOCKET "$lab_socket"
}

tailnet_down() {
  local pidfile socket_dir
  # Every node, including the ones tests started, so nothing keeps running.
  for pidfile in "$FLYWHEEL_LAB_DIR"/run/tailscaled-*.pid; do
    [ -e "$pidfile" ] || continue
    pidfile=${pidfile##*/}
    stop_daemon "${pidfile%.pid}"
  done
  stop_daemon headscale
  rm -rf "$TAILNET_DIR"
  socket_dir=$(tailnet_socket_dir)
  rm -f "$socket_dir"/headscale.sock "$socket_dir"/tailscaled-*.sock
  if [ "$socket_dir" != "$FLYWHEEL_LAB_DIR/run" ]; then rmdir "$socket_dir" 2>/dev/null || true; fi
  if [ -f "$FLYWHEEL_LAB_DIR/env" ]; then
    local key pattern=()
    for key in "${TAILNET_ENV_KEYS[@]}"; do pattern+=(-e "^$key="); done
    grep -v "${pattern[@]}" "$FLYWHEEL_LAB_DIR/env" >"$FLYWHEEL_LAB_DIR/env.tmp" || true
    mv "$FLYWHEEL_LAB_DIR/env.tmp" "$FLYWHEEL_LAB_DIR/env"
  fi
}

# One line per peer with the version the running peer reports (the pinned one when it is
# down); non-zero when any peer is down.
tailnet_status() {
  local rc=0 version socket
  if daemon_running headscale && headscale_healthy; then
    version=$(curl -fsS --max-time 2 "$HEADSCALE_URL/version" | jq -r '.version | ltrimstr("v")')
    echo "headscale $version running"
  else
    echo "headscale $HEADSCALE_VERSION stopped"
    rc=1
  fi
  socket=$(tailnet_node_socket "$LAB_NODE")
  if daemon_running "tailscaled-$LAB_NODE" &&
    version=$("$FLYWHEEL_BIN/tailscale" --socket="$socket" version --daemon --json 2>/dev/null |
      jq -er .daemonLong); then
    # `go install` builds carry no release stamp: 1.86.5-ERR-BuildInfo.
    echo "tailscaled ${version%%-*} running"
  else
    echo "tailscaled $TAILSCALE_VERSION stopped"
    rc=1
  fi
  return $rc
}
