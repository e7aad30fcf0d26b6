#!/bin/sh
# kbuild_cmd.sh WORK CMD [place:REL=FILE ...] [take:REL=FILE ...]
#
# Runs a command Kbuild saved (modpost's, from .Module.symvers.cmd) the way
# Kbuild runs it: with /bin/sh, in the object tree.  That tree is WORK, a
# scratch directory holding exactly the declared inputs, each at its
# objtree-relative path (place:REL=FILE, a symbolic link).  Each
# take:REL=FILE copies a result out.  WORK is removed on success; on
# failure the command's own error (modpost names the module) is on stderr
# and no output is written.  An action executable, so that no shell path
# appears on the command line.
set -eu
work=$1
cmd=$2
shift 2
top=$(pwd)
rm -rf "$work"
mkdir -p "$work"
for arg in "$@"; do
	case $arg in
	place:*)
		rel=${arg#place:}
		rel=${rel%%=*}
		mkdir -p "$work/$(dirname "$rel")"
		ln -s "$top/${arg#*=}" "$work/$rel"
		;;
	esac
done
if ! (cd "$work" && /bin/sh -c "$cmd"); then
	echo "kthinlto: Kbuild's command failed: $cmd" >&2
	exit 1
fi
for arg in "$@"; do
	case $arg in
	take:*)
		rel=${arg#take:}
		rel=${rel%%=*}
		cp "$work/$rel" "${arg#*=}"
		;;
	esac
done
rm -rf "$work"
