#!/usr/bin/env bash
# Maps `git describe` to a version string that both dpkg and rpm order
# correctly (printed on stdout; the package revision is nfpm's `release`).
#
#   v1.2.3                 -> 1.2.3
#   v1.2.3-rc1             -> 1.2.3~rc1              (~ sorts before 1.2.3)
#   v1.2.3-4-gabc1234      -> 1.2.3+git4.gabc1234    (+ sorts after 1.2.3)
#   no tag, 57 commits     -> 0.0.0+git57.gabc1234
#   any of them, dirty     -> ... .dirty appended
#
# Neither format allows '-' in the upstream version of an RPM, and Debian
# needs a leading digit, hence the rewriting. An explicit first argument (a
# `git describe` string, for tests) replaces the repository's.
set -euo pipefail

desc=${1:-$(git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null || echo unknown)}
dirty=""
if [[ $desc == *-dirty ]]; then
	dirty=".dirty"
	desc=${desc%-dirty}
fi

semver='([0-9]+\.[0-9]+\.[0-9]+)'
if [[ $desc =~ ^v?${semver}(-([0-9A-Za-z.]+))?-([0-9]+)-g([0-9a-f]+)$ ]]; then
	ver=${BASH_REMATCH[1]}
	[[ -n ${BASH_REMATCH[3]} ]] && ver+="~${BASH_REMATCH[3]}"
	ver+="+git${BASH_REMATCH[4]}.g${BASH_REMATCH[5]}"
elif [[ $desc =~ ^v?${semver}(-([0-9A-Za-z.]+))?$ ]]; then
	ver=${BASH_REMATCH[1]}
	[[ -n ${BASH_REMATCH[3]} ]] && ver+="~${BASH_REMATCH[3]}"
elif [[ $desc =~ ^[0-9a-f]{4,40}$ ]]; then
	count=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	ver="0.0.0+git${count}.g${desc}"
else
	echo "package-version: cannot map '$desc' to a package version" >&2
	exit 1
fi
echo "${ver}${dirty}"
