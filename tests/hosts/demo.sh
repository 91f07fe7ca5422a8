#!/usr/bin/env bash
# Deploys the demo app (playbooks/site.yml: nginx -> uWSGI -> Django) to a disposable local
# Debian 12 host over SSH with plumb, prints the endpoint's answer, then tears the host down.
#   bash tests/hosts/demo.sh          # deploy, show the answer, tear down
#   bash tests/hosts/demo.sh --keep   # leave the host running (tear down: testhosts.sh down 200)
set -euo pipefail
cd "$(dirname "$0")/../.."
k=${PLUMB_DEMO_HOST:-200}
keep=${1:-}
hosts=tests/hosts/testhosts.sh

# Prerequisites first, so a missing piece costs seconds, not a build's minutes: root (for the
# container host), cargo, and the harness's apt packages (installed here if missing).
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root, e.g. sudo bash tests/hosts/demo.sh (the demo host is a systemd-nspawn container)" >&2; exit 1; }
command -v cargo >/dev/null 2>&1 || { echo "demo: cargo not found; install a Rust toolchain (rustup) first" >&2; exit 1; }
bash "$hosts" deps

cargo build --release --quiet
if [ "$keep" != "--keep" ]; then
  trap 'bash "$hosts" down "$k"' EXIT
fi
bash "$hosts" up "$k" >/dev/null
ip=$(bash "$hosts" ip "$k")
dir=$(mktemp -d)
cat > "$dir/inventory.ini" <<INV
demo ansible_host=$ip ansible_user=root ansible_ssh_private_key_file=$(bash "$hosts" key)
INV

./target/release/plumb apply playbooks/site.yml -i "$dir/inventory.ini" \
  --host-key-checking accept-new --known-hosts "$dir/known_hosts"
echo
echo "Second run (nothing to change):"
./target/release/plumb apply playbooks/site.yml -i "$dir/inventory.ini" \
  --known-hosts "$dir/known_hosts" | tail -n 3
echo
echo "GET http://$ip/ →"
exec 3<>"/dev/tcp/$ip/80"
printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$ip" >&3
cat <&3
exec 3<&-
rm -rf "$dir"
