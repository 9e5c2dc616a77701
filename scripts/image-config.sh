#!/usr/bin/env bash
# Packs node configs into a config initrd for the hadhcpd appliance image:
#   scripts/image-config.sh OUT.cpio.gz NODEDIR...
# Each NODEDIR is named after its node (gw1, gw2...) and holds
#   hadhcpd.yaml   the agent's config (checked here with check-config --no-files: the key files exist only on the booted box)
#   network        the box's own addresses: "IFACE ADDRESS/PREFIX" lines,
#                  "route DEST via GW" lines, # comments (optional)
#   any other file (peer.key...): copied, mode 0600
# They land in /etc/hadhcpd/nodes/NAME/ of the booted box; the kernel command
# line hadhcpd.node=NAME picks one (not needed when the archive holds one
# node). Boot it as a second initrd after the firmware (GRUB/iPXE: `initrd
# initrd.img site.cpio.gz`; qemu: cat them into one file).
# Environment: HADHCPD = the hadhcpd binary to check with (default: built
# from this tree).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "image-config: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 OUT.cpio.gz NODEDIR..."
out=$1
shift
command -v cpio >/dev/null || die "cpio is missing (apt-get install cpio)"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d "${TMPDIR:-/tmp}/hdi-config.XXXXXX")
trap 'rm -rf "$work"' EXIT
hadhcpd=${HADHCPD:-}
if [[ -z $hadhcpd ]]; then
	hadhcpd=$work/hadhcpd
	CGO_ENABLED=0 ${GO:-go} build -trimpath -o "$hadhcpd" ./cmd/hadhcpd >&2
fi

declare -A names=()
for dir in "$@"; do
	dir=${dir%/}
	name=$(basename "$dir")
	[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "$dir: a node name must be letters, digits, . _ - (it is a kernel command line value)"
	[[ -z ${names[$name]:-} ]] || die "$dir: node $name given twice"
	names[$name]=1
	[[ -f $dir/hadhcpd.yaml ]] || die "$dir: no hadhcpd.yaml"
	if ! msg=$("$hadhcpd" check-config --no-files -c "$dir/hadhcpd.yaml" 2>&1); then
		echo "$msg" >&2
		die "$dir/hadhcpd.yaml fails check-config"
	fi
	if [[ -f $dir/network ]]; then
		n=0
		while read -r a b c d; do
			n=$((n + 1))
			case $a in
			'' | '#'*) ;;
			route) [[ -n $b && $c == via && -n $d ]] || die "$dir/network:$n: want 'route DEST via GW'" ;;
			*) [[ $b =~ ^[0-9.]+/[0-9]+$ ]] || die "$dir/network:$n: want 'IFACE ADDRESS/PREFIX', got '$a $b $c $d'" ;;
			esac
		done <"$dir/network"
	fi
	dst=$work/root/etc/hadhcpd/nodes/$name
	mkdir -p "$dst"
	for f in "$dir"/*; do
		[[ -f $f ]] || continue
		case $(basename "$f") in
		hadhcpd.yaml | network) install -m 0644 "$f" "$dst/" ;;
		*) install -m 0600 "$f" "$dst/" ;;
		esac
	done
done

(cd "$work/root" && find . -mindepth 1 -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + &&
	find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$work/out"
mkdir -p "$(dirname "$out")"
mv "$work/out" "$out"
echo "$out"
