#!/bin/sh
# kbuild_tail.sh SRC OBJ ARCH SRCARCH LLVM GOALS WORK [place:REL=FILE ...]
#     [take:REL=FILE ...]
#
# Runs Kbuild's own rules after vmlinux.o (`make GOALS`: vmlinux, bzImage)
# in a writable copy of the translated object tree OBJ, on source tree SRC.
# GOALS is one argument, the goals separated by spaces.  Each
# place:REL=FILE copies FILE to REL in that tree and tells make to take it
# as built (-o REL): vmlinux.o from the final link, vmlinux for the image.
# Each take:REL=FILE copies a result out.  WORK is scratch, removed on
# success; on failure the last lines of make's log are printed.  An action
# executable, so that no shell path appears on the command line.
set -eu
src=$1
obj=$2
arch=$3
srcarch=$4
llvm=$5
goals=$6
work=$7
shift 7
rm -rf "$work"
mkdir -p "$work"
# make compares modification times: the copy keeps the translation's, and
# the placed files are newer than all of them.
cp -RL --preserve=timestamps "$obj/." "$work/obj"
# The configuration is the translation's, final: auto.conf.cmd would run
# Kconfig again for any tool or path that differs here (the translation's
# CC, LD and NM were its recording shims, its source tree was elsewhere,
# and 6.12 also checks RUSTC_VERSION_TEXT, PAHOLE, ... of the host), so
# every such check goes.
sed -i '/^ifneq "\$(/,/^endif/d' "$work/obj/include/config/auto.conf.cmd"
# Nothing before the link units is built again: Kbuild's descent into the
# whole tree (".", after its prepare steps), the vmlinux linker script,
# made by that descent, and what modules need before it (modules_prepare:
# modpost and the module linker script, made by the translation) are taken
# as built, like vmlinux.o.  make is run the way Kbuild's own
# out-of-tree sub-make runs (in the object tree, sub_make_done=1, without
# make's built-in rules and variables: -rR, which the top-level make adds
# only when it starts that sub-make; --no-print-directory, without which
# 6.12's Makefile starts one more sub-make), because make does not pass -o on
# to a sub-make.
assume="-o . -o arch/$srcarch/kernel/vmlinux.lds -o modules_prepare"
for arg in "$@"; do
	case $arg in
	place:*)
		rel=${arg#place:}
		rel=${rel%%=*}
		cp "${arg#*=}" "$work/obj/$rel"
		touch "$work/obj/$rel"
		assume="$assume -o $rel"
		;;
	esac
done
# A failed make: what it was making, and the end of its log.
failed() {
	echo "kthinlto: Kbuild's make $1 failed; last lines of its log:" >&2
	tail -n 40 "$work/make.log" >&2
	exit 1
}
abs_src=$(cd "$src" && pwd)
abs_obj=$(cd "$work/obj" && pwd)
# shellcheck disable=SC2086 # $assume and $goals are lists
if ! make -rR --no-print-directory -C "$abs_obj" -f "$abs_src/Makefile" -I "$abs_src" sub_make_done=1 \
	abs_srctree="$abs_src" abs_objtree="$abs_obj" ARCH="$arch" LLVM="$llvm" \
	$assume $goals >"$work/make.log" 2>&1; then
	failed "$goals"
fi
for arg in "$@"; do
	case $arg in
	take:*)
		rel=${arg#take:}
		rel=${rel%%=*}
		cp "$work/obj/$rel" "${arg#*=}"
		;;
	esac
done
rm -rf "$work"
