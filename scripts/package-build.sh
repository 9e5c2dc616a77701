#!/usr/bin/env bash
# Builds the hadhcpd packages into dist/:
#   scripts/package-build.sh deb rpm
# Environment:
#   VERSION      stamped into the binary (default: git describe, as `make build`)
#   PKG_VERSION  package version (default: scripts/package-version.sh)
#   DIST         output directory (default: dist)
#   PKG_CONFIG_SRC  the default config to ship (default: packaging/hadhcpd.yaml;
#                the upgrade test ships a changed one)
# Prints the path of each package built, one a line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -gt 0 ]] || { echo "usage: $0 deb|rpm..." >&2; exit 2; }
for p in "$@"; do
	[[ $p == deb || $p == rpm ]] || { echo "package-build: unknown packager '$p' (deb, rpm)" >&2; exit 2; }
done

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
PKG_VERSION=${PKG_VERSION:-$(scripts/package-version.sh)}
DIST=${DIST:-dist}
PKG_BUILD=$DIST/build
mkdir -p "$PKG_BUILD"

# Static (no cgo): the package then depends on no libc version. -s -w drop
# the symbol table and DWARF (half the size); panics still name functions.
CGO_ENABLED=0 $GO build -trimpath \
	-ldflags "-s -w -X github.com/hadhcpd/hadhcpd/agent.Version=$VERSION" \
	-o "$PKG_BUILD/hadhcpd" ./cmd/hadhcpd >&2

# The shipped config must be one the shipped binary accepts.
config=${PKG_CONFIG_SRC:-packaging/hadhcpd.yaml}
cp "$config" "$PKG_BUILD/hadhcpd.yaml"
if ! out=$("$PKG_BUILD/hadhcpd" check-config -c "$PKG_BUILD/hadhcpd.yaml" 2>&1); then
	echo "package-build: $config fails check-config:" >&2
	echo "$out" >&2
	exit 1
fi

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
scripts/package-man.sh "$PKG_BUILD/hadhcpd" "$PKG_VERSION" | gzip -9n >"$PKG_BUILD/hadhcpd.8.gz"

export PKG_VERSION PKG_BUILD
for p in "$@"; do
	case $p in
	deb) target="$DIST/hadhcpd_${PKG_VERSION}-1_amd64.deb" ;;
	rpm) target="$DIST/hadhcpd-${PKG_VERSION}-1.x86_64.rpm" ;;
	esac
	rm -f "$target"
	$GO tool nfpm package --config packaging/nfpm.yaml --packager "$p" --target "$target" >&2
	echo "$target"
done
