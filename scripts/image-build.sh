#!/usr/bin/env bash
# Builds the hadhcpd appliance image (packaging/image/README.md) into
# dist/image/:
#   vmlinuz         Debian 12's kernel (linux-image-amd64), unchanged
#   initrd.img      the firmware: /init, busybox (busybox-static), the static
#                   hadhcpd, the kernel modules of packaging/image/modules
#   lab.cpio.gz     a config initrd for the image-test pair (packaging/image/lab)
#   SHA256SUMS
# The only downloads are two .deb files through apt-get download (cached in
# dist/image/cache); no root needed when they are cached and cpio is there.
# Environment:
#   VERSION        stamped into hadhcpd (default: git describe, as `make build`)
#   DIST           output directory (default: dist)
#   KERNEL_PKG     the kernel package (default: what linux-image-amd64 depends on)
#   SOURCE_DATE_EPOCH  file times in the archives (default: last commit)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
DIST=${DIST:-dist}
OUT=$DIST/image
CACHE=$OUT/cache
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

die() { echo "image-build: $*" >&2; exit 1; }
mkdir -p "$CACHE"

# Host tools: GNU cpio packs the archives (Debian's cpio package).
if ! command -v cpio >/dev/null; then
	[[ $(id -u) == 0 ]] || die "cpio is missing (apt-get install cpio)"
	echo "image-build: apt-get install cpio" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cpio >/dev/null
fi

# apt-get download NAME into the cache unless a .deb of it is there. A
# fresh machine may have no package lists yet: update once then.
fetch_deb() {
	local name=$1 deb
	deb=$(compgen -G "$CACHE/${name}_*.deb" | head -n1 || true)
	if [[ -z $deb ]]; then
		if ! apt-cache show "$name" >/dev/null 2>&1; then
			[[ $(id -u) == 0 ]] || die "apt knows no package $name and only root can apt-get update"
			apt-get update -qq >&2
		fi
		echo "image-build: apt-get download $name" >&2
		# -o APT::Sandbox::User=root: _apt cannot write into dist/.
		(cd "$CACHE" && apt-get download -o APT::Sandbox::User=root -qq "$name" >&2) ||
			die "apt-get download $name failed"
		deb=$(compgen -G "$CACHE/${name}_*.deb" | head -n1) || die "no $name .deb after download"
	fi
	echo "$deb"
}

if [[ -z ${KERNEL_PKG:-} ]]; then
	apt-cache show linux-image-amd64 >/dev/null 2>&1 || { [[ $(id -u) == 0 ]] && apt-get update -qq >&2; }
	KERNEL_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	[[ -n $KERNEL_PKG ]] || die "cannot resolve linux-image-amd64 to a kernel package (apt-cache depends)"
fi
kdeb=$(fetch_deb "$KERNEL_PKG")
bdeb=$(fetch_deb busybox-static)

work=$(mktemp -d "${TMPDIR:-/tmp}/hdi-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The kernel: vmlinuz and the modules we list, nothing else of the tree.
dpkg-deb -x "$kdeb" "$work/kernel"
kver=$(basename "$(compgen -G "$work/kernel/lib/modules/*" | head -n1)")
[[ -f $work/kernel/boot/vmlinuz-$kver ]] || die "$kdeb holds no boot/vmlinuz-$kver"
dpkg-deb -x "$bdeb" "$work/busybox"
bb=$work/busybox/bin/busybox
[[ -x $bb ]] || die "$bdeb holds no bin/busybox"

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,etc/hadhcpd/nodes,var/lib/hadhcpd,lib/modules}
ln -s bin "$root/sbin"
install -m 0755 packaging/image/init "$root/init"
install -m 0755 "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
	[[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
done

# hadhcpd exactly as scripts/package-build.sh builds it: static, stamped.
CGO_ENABLED=0 $GO build -trimpath \
	-ldflags "-s -w -X github.com/hadhcpd/hadhcpd/agent.Version=$VERSION" \
	-o "$root/bin/hadhcpd" ./cmd/hadhcpd >&2
echo "$VERSION" >"$root/etc/hadhcpd-image-version"

# Modules with their dependencies (the depends= field of each .ko's
# .modinfo), dependencies first; /init insmods them in this order.
mdir=$work/kernel/lib/modules/$kver
declare -A kopath=() seen=()
while IFS= read -r f; do
	n=$(basename "$f"); n=${n%%.ko*}
	kopath[$n]=$f
	kopath[${n//-/_}]=$f
done < <(find "$mdir/kernel" -name '*.ko*')
order=()
add_mod() {
	local n=${1//-/_} dep deps f
	[[ -n ${seen[$n]:-} ]] && return 0
	seen[$n]=1
	f=${kopath[$n]:-}
	if [[ -z $f ]]; then
		# Built into this kernel (modules.builtin) is fine; unknown is not.
		grep -qE "/${1}\.ko(\..*)?$|/${n}\.ko(\..*)?$" "$mdir/modules.builtin" ||
			die "packaging/image/modules: $1 is neither a module nor built into $kver"
		return 0
	fi
	[[ $f == *.ko ]] || die "$f: compressed modules are not supported (busybox insmod)"
	deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1)
	for dep in ${deps//,/ }; do add_mod "$dep"; done
	cp "$f" "$root/lib/modules/$n.ko"
	order+=("$n.ko")
}
while read -r m _; do
	[[ -z $m || $m == '#'* ]] && continue
	add_mod "$m"
done <packaging/image/modules
printf '%s\n' "${order[@]}" >"$root/lib/modules/load.order"

# newc cpio with root-owned files and fixed times (reproducible), plus a
# hand-made /dev/console (the kernel opens it for init's stdio before
# devtmpfs is mounted; mknod would need root).
pack() { # dir -> gzip'd cpio on stdout
	(cd "$1" && find . -mindepth 1 -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + &&
		find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible)
}
cpio_node() { # name mode major minor: one newc entry for a device node
	local name=$1 mode=$2 maj=$3 min=$4 nl=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		1 "$mode" 0 0 1 "$SOURCE_DATE_EPOCH" 0 0 0 "$maj" "$min" "$nl" 0 "$name"
	# header (110 bytes) + name padded to a multiple of 4
	local pad=$(((4 - (110 + nl) % 4) % 4))
	head -c "$pad" /dev/zero
}
cpio_trailer() { # an empty archive's trailer, padded like GNU cpio
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' 0 0 0 0 1 0 0 0 0 0 0 11 0 'TRAILER!!!'
	head -c 3 /dev/zero
}
{
	cpio_node dev/console $((0x2180)) 5 1
	cpio_trailer
	pack "$root"
} | gzip -9n >"$work/initrd.img"

mkdir -p "$OUT"
install -m 0644 "$work/kernel/boot/vmlinuz-$kver" "$OUT/vmlinuz"
install -m 0644 "$work/initrd.img" "$OUT/initrd.img"
echo "$kver" >"$OUT/KERNEL"
echo "$VERSION" >"$OUT/VERSION"

# The lab pair's config initrd (the test boots it; operators make their own
# with scripts/image-config.sh). The pair's pre-shared key is made here,
# fresh for every build, so no key is ever committed.
mkdir -p "$work/lab"
cp -r packaging/image/lab/gw1 packaging/image/lab/gw2 "$work/lab/"
head -c 48 /dev/urandom >"$work/lab/gw1/peer.key"
cp "$work/lab/gw1/peer.key" "$work/lab/gw2/peer.key"
HADHCPD=$root/bin/hadhcpd scripts/image-config.sh "$OUT/lab.cpio.gz" "$work/lab/gw1" "$work/lab/gw2" >/dev/null

(cd "$OUT" && sha256sum vmlinuz initrd.img lab.cpio.gz >SHA256SUMS)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
k=$(stat -c %s "$OUT/vmlinuz") i=$(stat -c %s "$OUT/initrd.img") c=$(stat -c %s "$OUT/lab.cpio.gz")
unpacked=$(du -sb "$root" | cut -f1)
echo "image-build: hadhcpd $VERSION, kernel $kver ($KERNEL_PKG), ${#order[@]} modules" >&2
echo "  $OUT/vmlinuz      $(mib "$k") MiB" >&2
echo "  $OUT/initrd.img   $(mib "$i") MiB (unpacked in RAM: $(mib "$unpacked") MiB)" >&2
echo "  $OUT/lab.cpio.gz  $c bytes (config initrd of the lab pair)" >&2
echo "image size: $(mib $((k + i))) MiB (vmlinuz + initrd.img)"
