#!/bin/sh
# initcall_scan.sh NM FE_DIR OUT_DIR OBJ...
# Writes, for each object FE_DIR/M, the listing OUT_DIR/M.initcalls: the lines
# of `NM --defined-only FE_DIR/M` that name an initcall (__initcall__*), the
# only lines Kbuild's generate_initcall_order.pl reads.  One action scans a
# shard of objects, so an edit re-scans only its shard, and the ordering
# script then reads small listings instead of running llvm-nm on every object
# again.  Three processes per shard: one llvm-nm reads every object (-A puts
# the object's path before each line), one awk splits the lines.
set -eu
nm=$1
fe=$2
out=$3
shift 3
for obj; do
	: >"$out${obj#"$fe"}.initcalls"
done
# Like Kbuild's script, nm's complaints about objects without symbols are
# dropped.  nm's status travels as the last line; if it failed, each object
# is read again alone to name the one that cannot be read.
status=0
{
	"$nm" -A --defined-only "$@" 2>/dev/null && echo 0 || echo "$?"
} | awk -v fe="$fe" -v out="$out" '
index($0, ": ") == 0 { status = $0; next }
{
	i = index($0, ": ")
	obj = substr($0, 1, i - 1)
	line = substr($0, i + 2)
	if (index(line, "__initcall__") == 0) next
	if (substr(obj, 1, length(fe)) != fe) {
		print "initcall_scan.sh: " obj " is not in " fe > "/dev/stderr"
		exit 2
	}
	listing = out substr(obj, length(fe) + 1) ".initcalls"
	if (listing != current) {
		if (current != "") close(current)
		current = listing
	}
	print line >> listing
}
END { exit status + 0 }' || status=$?
if [ "$status" -ne 0 ]; then
	for obj; do
		if ! why=$("$nm" --defined-only "$obj" 2>&1 >/dev/null); then
			echo "kthinlto initcall scan: error: $obj cannot be read: ${why##*: }; rebuild it from its source" >&2
		fi
	done
	exit "$status"
fi
