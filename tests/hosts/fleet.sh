#!/usr/bin/env bash
# fleet.sh — hundreds to thousands of lightweight SSH hosts for fleet-scale runs of plumb.
#
# One network namespace (plumb-fleet) reached through one veth pair: 10.232.0.1 on the control
# side, 10.232.0.2 inside, and a route for 10.232.0.0/16 through 10.232.0.2 (one neighbour entry,
# however many hosts). Host K (1..5000) is one sshd, run as root from the control machine's
# openssh-server, bound to its own address 10.232.X.Y (X = 1 + (K-1)/250, Y = 1 + (K-1)%250, on
# the namespace's loopback device) with its OWN host key (generated once, cached). Each sshd is
# started in a private mount namespace with tmpfs over /run, /tmp, /var/lock and /srv (which holds
# the writable data dir /srv/fleet) and /root (root's home: an empty one, as on a fresh host; the
# control machine's ~/.bashrc, run by bash for every ssh command, must not run on the hosts: its
# pyenv rehash, 200 at once, fought over one lock and ate the stdin of `sh -s`): what plumb writes
# on host K lands in that host's tmpfs only, never on the control machine's disk. No systemd, no PAM, key-only auth with the harness key.
# Only 10.232.0.0/16 addresses and the namespace's loopback are used.
#
# Usage:
#   fleet.sh deps            install the control machine's missing apt packages (as root)
#   fleet.sh up N            boot hosts 1..N (tears down what runs first); seconds, not minutes
#   fleet.sh down            stop every sshd this harness started, delete the namespace (idempotent)
#   fleet.sh inventory N     print an INI inventory of hosts 1..N (group fleet) on stdout
#   fleet.sh status          the namespace, live sshd count, and the hosts that do not listen
#   fleet.sh key             print the path of the private key root@ every host accepts
#   fleet.sh known-hosts     print the path of the known_hosts file of the booted hosts
#   fleet.sh ip K            print host K's address
#   fleet.sh check K         prove that host K's writes stay in its own tmpfs (after a run)
#
# State (pid files, configs, keys, logs) lives in $PLUMB_FLEET_DIR (default /var/tmp/plumb-fleet);
# `down` only ever signals the pids recorded there, after checking each still is an sshd started
# with a config from there. testhosts.sh's hosts are never touched.
#
# Limits: each sshd has MaxStartups 1000:30:2000 and MaxSessions 100; the harness raises its own
# open-file limit (ulimit -n) to 65536 where it can, and ssh clients of a bench need about one
# fd per connection in flight (plumb: one per fork). Must run as root.

set -euo pipefail

readonly STATE=${PLUMB_FLEET_DIR:-/var/tmp/plumb-fleet}
readonly NS=plumb-fleet
readonly VETH_CTL=pf-ctl
readonly VETH_NS=pf-ns
readonly KEY=$STATE/id_ed25519
readonly HOSTKEYS=$STATE/hostkeys
readonly HOSTS=$STATE/hosts
readonly KNOWN=$STATE/known_hosts
readonly MAX_HOSTS=5000
readonly SSHD=/usr/sbin/sshd

log() { printf 'fleet: %s\n' "$*" >&2; }
die() { printf 'fleet: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# The Debian packages this harness needs, installed as testhosts.sh does (`deps`).
readonly PACKAGES=(openssh-server openssh-client iproute2 util-linux)

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

ensure_deps() {
  local missing
  if ! command -v dpkg-query >/dev/null 2>&1; then
    need_cmds
    return
  fi
  missing=$(missing_packages | tr '\n' ' ')
  missing=${missing% }
  if [ -n "$missing" ]; then
    [ "$(id -u)" -eq 0 ] ||
      die "missing packages: $missing. Run: sudo apt-get install -y $missing (or run this as root and it installs them)"
    command -v apt-get >/dev/null 2>&1 ||
      die "missing packages: $missing, and no apt-get here to install them; install their equivalents"
    mkdir -p "$STATE"
    exec 8>"$STATE/.deps.lock"
    flock 8
    missing=$(missing_packages | tr '\n' ' ')
    missing=${missing% }
    if [ -n "$missing" ]; then
      log "installing missing packages (once): $missing"
      # The package's own sshd must not start on the control machine's addresses: a
      # policy-rc.d that refuses every start, for the time of the install, unless one exists.
      local policy=""
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
      fi
      apt-get update -qq >&2 || die "'apt-get update' failed"
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 ||
        { [ -z "$policy" ] || rm -f "$policy"; die "'apt-get install -y $missing' failed"; }
      [ -z "$policy" ] || rm -f "$policy"
    fi
    exec 8>&-
  fi
  need_cmds
}

need_cmds() {
  local c missing=()
  for c in "$SSHD" ssh ssh-keygen ip unshare setsid flock; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ "${#missing[@]}" -eq 0 ] ||
    die "missing commands: ${missing[*]} (on Debian/Ubuntu: apt-get install -y ${PACKAGES[*]})"
}

check_n() {
  [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le $MAX_HOSTS ] ||
    die "host count must be 1..$MAX_HOSTS, got '$1'"
}

host_ip() { echo "10.232.$((1 + ($1 - 1) / 250)).$((1 + ($1 - 1) % 250))"; }

ensure_key() {
  mkdir -p "$STATE" "$HOSTKEYS" "$HOSTS"
  chmod 755 "$STATE"
  if [ ! -f "$KEY" ] || [ ! -f "$KEY.pub" ]; then
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C plumb-fleet -f "$KEY"
  fi
  chmod 600 "$KEY"
  cp "$KEY.pub" "$STATE/authorized_keys"
  chmod 644 "$STATE/authorized_keys"
}

# Host keys 1..N, each its own, generated once (in parallel) and kept across up/down.
ensure_host_keys() {
  local n=$1 k todo=()
  for ((k = 1; k <= n; k++)); do
    [ -f "$HOSTKEYS/h$k" ] && [ -f "$HOSTKEYS/h$k.pub" ] || todo+=("$k")
  done
  [ "${#todo[@]}" -eq 0 ] && return 0
  log "generating ${#todo[@]} host keys (cached in $HOSTKEYS)"
  printf '%s\n' "${todo[@]}" | xargs -P 8 -I{} sh -c \
    'rm -f "$0/h{}" "$0/h{}.pub"; ssh-keygen -q -t ed25519 -N "" -C fleet-h{} -f "$0/h{}"' "$HOSTKEYS"
}

# Is $1 a live sshd started from this state dir?
ours() {
  local pid=$1 cmd
  [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"sshd"*"-f $HOSTS/"* ]]
}

cmd_down() {
  need_root
  local pidf pid pids=()
  if [ -d "$HOSTS" ]; then
    for pidf in "$HOSTS"/h*/pid; do
      [ -f "$pidf" ] || continue
      pid=$(cat "$pidf")
      if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid"; then
        pids+=("$pid")
      fi
    done
  fi
  if [ "${#pids[@]}" -gt 0 ]; then
    log "stopping ${#pids[@]} sshd"
    # Each sshd leads its own process group (setsid): its connections' children go with it.
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
    local i left
    for ((i = 0; i < 50; i++)); do
      left=0
      for pid in "${pids[@]}"; do ours "$pid" && left=$((left + 1)); done
      [ "$left" -eq 0 ] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do
      ours "$pid" && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }
    done
  fi
  [ -d "$HOSTS" ] && find "$HOSTS" -name pid -delete
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$VETH_CTL" 2>/dev/null || true
  ip route del 10.232.0.0/16 2>/dev/null || true
  rm -f "$STATE/up"
}

# The sshd_config of host K.
write_config() {
  local k=$1 dir=$HOSTS/h$1
  mkdir -p "$dir"
  cat >"$dir/sshd_config" <<EOF
ListenAddress $(host_ip "$k"):22
HostKey $HOSTKEYS/h$k
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $STATE/authorized_keys
StrictModes no
MaxStartups 1000:30:2000
MaxSessions 100
LoginGraceTime 600
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
}

cmd_up() {
  need_root
  [ $# -eq 1 ] || usage
  check_n "$1"
  local n=$1 k
  ensure_deps
  ensure_key
  cmd_down
  trap 'log "boot failed: tearing down"; cmd_down' ERR
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
  ensure_host_keys "$n"

  # The namespace, its veth pair and addresses (one batch: a thousand `ip` calls take seconds).
  ip netns add "$NS"
  ip link add "$VETH_CTL" type veth peer name "$VETH_NS" netns "$NS"
  ip addr add 10.232.0.1/24 dev "$VETH_CTL"
  ip link set "$VETH_CTL" up
  ip route add 10.232.0.0/16 via 10.232.0.2 dev "$VETH_CTL"
  {
    echo "link set lo up"
    echo "addr add 10.232.0.2/24 dev $VETH_NS"
    echo "link set $VETH_NS up"
    for ((k = 1; k <= n; k++)); do echo "addr add $(host_ip "$k")/32 dev lo"; done
  } >"$STATE/ip.batch"
  ip -n "$NS" -batch "$STATE/ip.batch"
  ip netns exec "$NS" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 || true

  # One sshd per host, each in its own mount namespace with private tmpfs for what plumb writes.
  for ((k = 1; k <= n; k++)); do write_config "$k"; done
  : >"$KNOWN.new"
  for ((k = 1; k <= n; k++)); do
    printf '%s %s\n' "$(host_ip "$k")" "$(cut -d' ' -f1-2 "$HOSTKEYS/h$k.pub")" >>"$KNOWN.new"
  done
  mv "$KNOWN.new" "$KNOWN"
  log "starting $n sshd in $NS"
  for ((k = 1; k <= n; k++)); do
    local dir=$HOSTS/h$k
    setsid ip netns exec "$NS" unshare -m --propagation private sh -c '
      set -e
      mount -t tmpfs -o mode=755,size=64m fleet-run /run
      mkdir -p -m 755 /run/sshd /run/lock
      mount -t tmpfs -o mode=1777,size=64m fleet-tmp /tmp
      mount -t tmpfs -o mode=1777,size=16m fleet-lock /var/lock
      mount -t tmpfs -o mode=755,size=64m fleet-srv /srv
      mount -t tmpfs -o mode=700,size=16m fleet-root /root
      mkdir -p -m 755 /srv/fleet
      exec "$0" -D -f "$1" -E "$2"
    ' "$SSHD" "$dir/sshd_config" "$dir/log" </dev/null >"$dir/out" 2>&1 &
    echo $! >"$dir/pid"
  done
  echo "$n" >"$STATE/up"
  trap - ERR
  wait_listening "$n"
}

# Waits until every host's sshd listens (ss in the namespace), up to 60 s.
wait_listening() {
  local n=$1 i got=0
  for ((i = 0; i < 600; i++)); do
    got=$(ip netns exec "$NS" ss -Hltn 'sport = :22' | wc -l)
    [ "$got" -ge "$n" ] && break
    sleep 0.1
  done
  if [ "$got" -lt "$n" ]; then
    log "only $got of $n sshd listen after 60 s; see $HOSTS/h*/log"
    cmd_down
    exit 1
  fi
  log "$n hosts up: 10.232.1.1 .. $(host_ip "$n") (key $KEY, known_hosts $KNOWN)"
}

cmd_inventory() {
  [ $# -eq 1 ] || usage
  check_n "$1"
  local k
  echo "[fleet]"
  for ((k = 1; k <= $1; k++)); do echo "f$k ansible_host=$(host_ip "$k")"; done
  echo
  echo "[fleet:vars]"
  echo "ansible_user=root"
  echo "ansible_ssh_private_key_file=$KEY"
}

cmd_status() {
  local up=0 live=0 pidf
  [ -f "$STATE/up" ] && up=$(cat "$STATE/up")
  if [ -d "$HOSTS" ]; then
    for pidf in "$HOSTS"/h*/pid; do
      [ -f "$pidf" ] && ours "$(cat "$pidf")" && live=$((live + 1))
    done
  fi
  if ip netns list | grep -qw "$NS"; then
    echo "namespace $NS: present"
    echo "listening: $(ip netns exec "$NS" ss -Hltn 'sport = :22' | wc -l)"
  else
    echo "namespace $NS: absent"
  fi
  echo "booted: $up, live sshd: $live"
}

# Host K's writes are in its own tmpfs: /srv/fleet as its sshd sees it, and not on the control
# machine (nor on host K+1).
cmd_check() {
  need_root
  local k=$1 pid
  pid=$(cat "$HOSTS/h$k/pid")
  ours "$pid" || die "host $k does not run"
  echo "host $k /srv/fleet:"
  nsenter -t "$pid" -m -- sh -c 'findmnt -n -o FSTYPE,SOURCE /srv; ls -la /srv/fleet'
  if [ -e /srv/fleet ]; then echo "control machine: /srv/fleet EXISTS"; else echo "control machine: no /srv/fleet"; fi
}

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1
  shift
  case $cmd in
    deps) [ $# -eq 0 ] || usage; ensure_deps ;;
    up) cmd_up "$@" ;;
    down) [ $# -eq 0 ] || usage; cmd_down ;;
    inventory) cmd_inventory "$@" ;;
    status) cmd_status ;;
    key) echo "$KEY" ;;
    known-hosts) echo "$KNOWN" ;;
    ip) [ $# -eq 1 ] || usage; host_ip "$1" ;;
    check) [ $# -eq 1 ] || usage; cmd_check "$1" ;;
    *) usage ;;
  esac
}

main "$@"
