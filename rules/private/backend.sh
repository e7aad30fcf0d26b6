#!/bin/sh
# backend.sh BUNDLE BITCODE MODULE WORK CLANG ARGS...
# Runs one ThinLTO backend.  BUNDLE (a tar written by the thin link) holds
# the object's index (MODULE.thinlto.bc), its import list and exactly the
# bitcode it imports, under the module names the index uses; BITCODE is the
# object's own FE output.  Both are unpacked into WORK, the object under its
# module name MODULE, and CLANG ARGS run there (their paths are relative to
# WORK).  WORK is removed afterwards.
set -eu
bundle=$1
own=$2
module=$3
work=$4
shift 4
root=$PWD
# LD_LIBRARY_PATH names the toolchain's lib/ relative to the execroot (no
# host path in an action); made absolute here, before the cd.
if [ -n "${LD_LIBRARY_PATH:-}" ]; then
	dirs=
	IFS=:
	for d in $LD_LIBRARY_PATH; do
		case $d in /*) ;; *) d=$root/$d ;; esac
		dirs=${dirs:+$dirs:}$d
	done
	unset IFS
	export LD_LIBRARY_PATH="$dirs"
fi
# Few processes: this runs once per bitcode object.  tar creates WORK and
# the directory of MODULE (the bundle holds MODULE.thinlto.bc).
[ ! -e "$work" ] || rm -rf "$work"
tar -xf "$bundle" --one-top-level="$work"
ln -s "$root/$own" "$work/$module"
cd "$work"
status=0
"$@" || status=$?
cd "$root"
rm -rf "$work"
exit $status
