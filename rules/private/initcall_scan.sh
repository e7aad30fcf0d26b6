#!/bin/sh
# initcall_scan.sh NM OBJ LISTING [OBJ LISTING]...
# Writes, for each object, the lines of `NM --defined-only OBJ` that name an
# initcall (__initcall__*), the only lines Kbuild's generate_initcall_order.pl
# reads.  One action scans a shard of objects, so an edit re-scans only its
# shard, and the ordering script then reads small listings instead of running
# llvm-nm on every object again.
set -eu
nm=$1
shift
while [ $# -gt 0 ]; do
	# Like Kbuild's script, nm's complaints about objects without symbols are
	# dropped; a failing nm still fails the action.
	syms=$("$nm" --defined-only "$1" 2>/dev/null)
	printf '%s\n' "$syms" | grep -F __initcall__ >"$2" || [ $? -eq 1 ]
	shift 2
done
