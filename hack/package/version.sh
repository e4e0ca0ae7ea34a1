#!/usr/bin/env bash
# Prints the Debian version of the packages, from git describe:
#   tag v1.2.3 on HEAD          -> 1.2.3
#   5 commits past v1.2.3       -> 1.2.3+git5.gabc1234
#   no tag yet (378 commits)    -> 0.0.0+git378.gabc1234
# and ".dirty" appended for a work tree with changes. The commit count
# keeps successive builds of a branch in increasing order for dpkg.
set -euo pipefail
cd "$(dirname "$0")/../.."
dirty=
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=.dirty
sha=$(git rev-parse --short=7 HEAD)
if d=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.3-5-gabc1234
	tag=${d%-*-g*} n=${d%-g*}
	n=${n##*-}
	v=${tag#v}
	[ "$n" = 0 ] || v+="+git$n.g$sha"
else
	v="0.0.0+git$(git rev-list --count HEAD).g$sha"
fi
# Debian versions allow no hyphen in the upstream part without a revision.
echo "${v//-/\~}$dirty"
