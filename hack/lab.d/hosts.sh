# shellcheck shell=bash
# Lab component `hosts`: systemd containers under podman that stand in for the platform's
# machines, for the `lab` inventory and for molecule. No image registry is reachable, so
# the host image is bootstrapped from Debian packages and imported; its rootfs tarball is
# cached, keyed by suite and recipe revision, so later runs and fresh clones skip
# debootstrap. Sourced by hack/lab; hack/test and molecule call `hosts_image` alone.

HOSTS_IMAGE_REPO=localhost/flywheel-host
HOSTS_IMAGE=$HOSTS_IMAGE_REPO:$HOST_IMAGE_SUITE-r$HOST_IMAGE_REVISION
# Moved to whichever image `hosts_image` last ensured, so that the molecule scenarios name
# the image without repeating the pins of hack/versions.env.
HOSTS_IMAGE_CURRENT=$HOSTS_IMAGE_REPO:current
HOSTS_IMAGE_TARBALL=$FLYWHEEL_CACHE/host-image/flywheel-host-$HOST_IMAGE_SUITE-r$HOST_IMAGE_REVISION.tar
HOSTS_NETWORK=flywheel-lab
HOSTS_NAMES=(flywheel-lab-1 flywheel-lab-2)
HOSTS_LABEL=io.glorious-flywheel.lab=hosts
HOSTS_DEBIAN_MIRROR=${FLYWHEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What a platform host needs before any role runs: systemd as PID 1, python3 (and
# python3-apt for the apt module) for Ansible, sshd for roles that manage it, kmod and
# procps for kernel modules and sysctl, dbus for systemd's own tools (hostnamectl, logind).
# rpm, dnf and python3-dnf let the rke2 role's rpm install method run on these Debian hosts
# (its molecule scenario installs from a local repository; no EL image can be had here).
HOSTS_IMAGE_PACKAGES=python3,python3-apt,openssh-server,sudo,iproute2,systemd,systemd-sysv,dbus,procps,kmod,ca-certificates,rpm,dnf,python3-dnf
# A drop-in rather than containers.conf, so an operator's own configuration stays theirs;
# podman 4.3 (bookworm) merges containers.conf.d after containers.conf.
HOSTS_PODMAN_DROPIN=/etc/containers/containers.conf.d/50-glorious-flywheel.conf

hosts_podman_dropin_content() {
  cat <<'EOF'
# Written by glorious.flywheel's hack/lab (hosts): podman as this project's lab needs it.
[containers]
# Podman's default ulimits exceed the hard limits of unprivileged build machines and fail
# with "setrlimit ... Operation not permitted"; these fit under them.
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
# crun fails on hosts with hybrid cgroups ("cgroups in hybrid mode not supported").
runtime = "runc"
EOF
}

# Installs podman and makes it usable here; cheap when everything is in place.
hosts_podman_ready() {
  # netavark shells out to iptables, which podman only suggests.
  ensure_debs podman runc netavark aardvark-dns iptables
  if ! cmp -s "$HOSTS_PODMAN_DROPIN" <(hosts_podman_dropin_content); then
    log "configuring podman: $HOSTS_PODMAN_DROPIN"
    mkdir -p "$(dirname "$HOSTS_PODMAN_DROPIN")"
    hosts_podman_dropin_content >"$HOSTS_PODMAN_DROPIN"
  fi
  local runtime
  runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}') || die "podman info failed"
  # CONTAINERS_CONF, or a later drop-in of the operator's, hides ours.
  [ "$runtime" = runc ] ||
    die "podman uses the OCI runtime '$runtime', not runc: check CONTAINERS_CONF and /etc/containers/containers.conf.d/"
}

# Writes the host image's rootfs tarball with debootstrap (about 90 s), atomically.
hosts_image_bootstrap() {
  ensure_debs debootstrap
  local rootfs=$HOSTS_IMAGE_TARBALL.rootfs
  log "bootstrapping the host image, Debian $HOST_IMAGE_SUITE (first run only, ~2 min)"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  debootstrap --variant=minbase --include="$HOSTS_IMAGE_PACKAGES" \
    "$HOST_IMAGE_SUITE" "$rootfs" "$HOSTS_DEBIAN_MIRROR" >"$rootfs.log" 2>&1 ||
    { rm -rf "$rootfs"; die "debootstrap failed, see $rootfs.log"; }
  hosts_image_customize "$rootfs"
  tar -C "$rootfs" --numeric-owner -cf "$HOSTS_IMAGE_TARBALL.tmp" . || die "packing the host image failed"
  mv "$HOSTS_IMAGE_TARBALL.tmp" "$HOSTS_IMAGE_TARBALL"
  rm -rf "$rootfs" "$rootfs.log"
}

# Makes one rootfs fit many containers: each boots with its own identity.
hosts_image_customize() {
  local rootfs=$1
  # An empty machine-id makes systemd generate one per container at first boot.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id"
  # Host keys made during debootstrap would be shared by every container; sshd's unit
  # generates missing ones before its config test instead.
  rm -f "$rootfs"/etc/ssh/ssh_host_*
  mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
  cat >"$rootfs/etc/systemd/system/ssh.service.d/10-host-keys.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
  # The hostname comes from podman; the build machine's would be wrong everywhere.
  rm -f "$rootfs/etc/hostname"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
}

# Ensures the host image exists in podman's storage: from podman, else from the cached
# tarball, else bootstrapped. Also points the `current` tag at it.
hosts_image() {
  local hosts_lock
  hosts_podman_ready
  mkdir -p "$(dirname "$HOSTS_IMAGE_TARBALL")"
  # Parallel callers (the lab fixture and molecule) must not bootstrap twice.
  exec {hosts_lock}>"$HOSTS_IMAGE_TARBALL.lock"
  flock "$hosts_lock"
  if ! podman image exists "$HOSTS_IMAGE"; then
    [ -s "$HOSTS_IMAGE_TARBALL" ] || hosts_image_bootstrap
    log "importing $HOSTS_IMAGE from $HOSTS_IMAGE_TARBALL"
    podman import --quiet \
      --change 'CMD ["/sbin/init"]' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      --change "LABEL io.glorious-flywheel.host-image.revision=$HOST_IMAGE_REVISION" \
      "$HOSTS_IMAGE_TARBALL" "$HOSTS_IMAGE" >/dev/null || die "podman import failed"
  fi
  podman tag "$HOSTS_IMAGE" "$HOSTS_IMAGE_CURRENT"
  flock -u "$hosts_lock"
  exec {hosts_lock}>&-
}

hosts_state() {
  podman container inspect --format '{{.State.Status}}' "$1" 2>/dev/null || echo absent
}

# Starts one lab host, replacing a container built from another image revision.
hosts_start() {
  local name=$1 image
  image=$(podman container inspect --format '{{.ImageName}}' "$name" 2>/dev/null || true)
  if [ -n "$image" ] && [ "$image" != "$HOSTS_IMAGE" ]; then
    log "replacing $name ($image is not $HOSTS_IMAGE)"
    podman rm --force --time 10 "$name" >/dev/null
    image=
  fi
  if [ -z "$image" ]; then
    hosts_podman_quiet "$name" run --detach --name "$name" --hostname "$name" \
      --network "$HOSTS_NETWORK" --label "$HOSTS_LABEL" --systemd=always "$HOSTS_IMAGE" /sbin/init
  elif [ "$(hosts_state "$name")" != running ]; then
    hosts_podman_quiet "$name" start "$name"
  fi
}

# Runs a podman command that may start the network's aardvark-dns, with its output in a
# log file rather than on our stdout/stderr: the daemon inherits them, and a caller
# reading them through a pipe (pytest, a CI log) would wait for it forever. aardvark-dns
# also says "failed to connect to syslog" on machines without /dev/log, and then works.
hosts_podman_quiet() {
  local name=$1 output=$FLYWHEEL_LAB_DIR/log/hosts-$1.log
  shift
  mkdir -p "$(dirname "$output")"
  podman "$@" >"$output" 2>&1 || { cat "$output" >&2; die "podman $1 $name failed"; }
}

# Waits for systemd inside NAME to finish booting. A degraded boot is reported with its
# failed units rather than refused: the host still takes Ansible, but hides a problem.
hosts_wait_booted() {
  local name=$1 state i
  for ((i = 0; i < 120; i++)); do
    # Empty or "offline" while PID 1 is not up yet, "starting" while units start.
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null) || true
    case $state in
      running) return 0 ;;
      degraded)
        log "warning: $name booted degraded; failed units:"
        podman exec "$name" systemctl --failed --no-legend --plain >&2 || true
        return 0
        ;;
    esac
    sleep 1
  done
  die "systemd in $name did not finish booting in 120s (state: ${state:-unknown}); see: podman logs $name"
}

hosts_up() {
  hosts_image
  podman network exists "$HOSTS_NETWORK" || podman network create "$HOSTS_NETWORK" >/dev/null ||
    die "creating the podman network $HOSTS_NETWORK failed"
  local name
  for name in "${HOSTS_NAMES[@]}"; do hosts_start "$name"; done
  for name in "${HOSTS_NAMES[@]}"; do hosts_wait_booted "$name"; done
  env_put LAB_HOSTS "$(IFS=,; echo "${HOSTS_NAMES[*]}")"
  env_put LAB_HOST_IMAGE "$HOSTS_IMAGE"
  env_put LAB_HOSTS_NETWORK "$HOSTS_NETWORK"
}

# Removes the containers and the network; the image and its cached tarball stay.
hosts_down() {
  command -v podman >/dev/null || return 0
  local name
  for name in "${HOSTS_NAMES[@]}"; do
    podman rm --force --ignore --time 10 "$name" >/dev/null
  done
  if podman network exists "$HOSTS_NETWORK"; then
    podman network rm "$HOSTS_NETWORK" >/dev/null || die "removing the podman network $HOSTS_NETWORK failed"
  fi
}

hosts_status() {
  if ! command -v podman >/dev/null; then
    echo "podman missing"
    return 1
  fi
  echo "podman $(podman version --format '{{.Client.Version}}') ok"
  local name state rc=0
  for name in "${HOSTS_NAMES[@]}"; do
    state=$(hosts_state "$name")
    case $state in
      running) echo "$name running" ;;
      absent) echo "$name absent"; rc=1 ;;
      *) echo "$name stopped"; rc=1 ;;
    esac
  done
  return $rc
}
