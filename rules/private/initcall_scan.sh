#!/bin/sh
# initcall_scan.sh NM FE_DIR OUT_DIR OBJ...
# Writes, for each object FE_DIR/M, the listing OUT_DIR/M.initcalls: the lines
# of `NM --defined-only FE_DIR/M` that name an initcall (__initcall__*), the
# only lines Kbuild's generate_initcall_order.pl reads.  One action scans a
# shard of objects, so an edit re-scans only its shard, and the ordering
# script then reads small listings instead of running llvm-nm on every object
# again.  Three processes per shard: one llvm-nm reads every object (-A puts
# the object's path before each line), one grep keeps the initcall lines.
set -eu
nm=$1
fe=$2
out=$3
shift 3
for obj; do
	: >"$out${obj#"$fe"}.initcalls"
done
# Like Kbuild's script, nm's complaints about objects without symbols are
# dropped.  nm's status travels as a last line of its own; the loop (builtins
# only; it sees the few initcall lines) splits the lines by object.  No awk:
# on Debian it is a link through /etc/alternatives, which a remote worker's
# sandbox need not have.
status=0
{
	"$nm" -A --defined-only "$@" 2>/dev/null && echo "kthinlto-nm-status 0" ||
		echo "kthinlto-nm-status $?"
} | grep -F -e __initcall__ -e kthinlto-nm-status | {
	nm_status=1
	while IFS= read -r line; do
		case $line in
		"kthinlto-nm-status "*)
			nm_status=${line#kthinlto-nm-status }
			continue
			;;
		esac
		# Only the symbol part counts, as when nm read one object.
		case ${line#*: } in
		*__initcall__*) ;;
		*) continue ;;
		esac
		obj=${line%%: *}
		case $obj in
		"$fe"*) ;;
		*)
			echo "initcall_scan.sh: $obj is not in $fe" >&2
			exit 2
			;;
		esac
		printf '%s\n' "${line#*: }" >>"$out${obj#"$fe"}.initcalls"
	done
	exit "$nm_status"
} || status=$?
if [ "$status" -ne 0 ]; then
	for obj; do
		if ! why=$("$nm" --defined-only "$obj" 2>&1 >/dev/null); then
			echo "kthinlto initcall scan: error: $obj cannot be read: ${why##*: }; rebuild it from its source" >&2
		fi
	done
	exit "$status"
fi
