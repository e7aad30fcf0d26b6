#!/bin/sh
# The launcher of `bazel run //:dist -- DIR` (rules/private/dist.bzl writes
# the list below for one kernel):  copies the kernel's results into DIR,
# which must be new or empty.  Everything is copied into a directory beside
# DIR first and renamed into place last: on any failure, DIR is as it was.
# A relative DIR is taken from where `bazel run` was started.
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "kthinlto dist: give one directory: bazel run //:dist -- DIR" >&2
	exit 2
fi
dir=$1
case $dir in
/*) ;;
*) dir=${BUILD_WORKING_DIRECTORY:-$PWD}/$dir ;;
esac
if [ -e "$dir" ] && { [ ! -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; }; then
	echo "kthinlto dist: $dir is not an empty directory; give a new or empty one" >&2
	exit 1
fi
parent=$(dirname "$dir")
if ! mkdir -p "$parent" 2>/dev/null || ! tmp=$(mktemp -d "$parent/.kthinlto-dist.XXXXXX" 2>/dev/null); then
	echo "kthinlto dist: cannot write in $parent; give a directory you can write" >&2
	exit 1
fi
trap 'rm -rf "$tmp"' EXIT
here=$PWD
# A copy that fails (a full disk, say): one line, and nothing in DIR.
copy() {
	if ! err=$("$@" 2>&1); then
		echo "kthinlto dist: cannot copy into $parent: $(printf '%s\n' "$err" | head -n 1); nothing written to $dir" >&2
		exit 1
	fi
}
# Each line: the name in DIR, then the runfile (relative to the runfiles
# directory of the main workspace, where `bazel run` starts us).
while read -r name file; do
	[ -n "$name" ] || continue
	if [ -d "$here/$file" ]; then
		copy mkdir -p "$tmp/$name"
		copy cp -RL "$here/$file/." "$tmp/$name/"
	else
		copy cp -L "$here/$file" "$tmp/$name"
	fi
done <<'LIST'
@FILES@
LIST
copy chmod -R u+w "$tmp"
if [ -d "$dir" ]; then
	copy rmdir "$dir"
fi
copy mv "$tmp" "$dir"
trap - EXIT
echo "kthinlto dist: $(find "$dir" -type f | wc -l) files in $dir"
