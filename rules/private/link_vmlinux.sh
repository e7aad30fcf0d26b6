#!/bin/sh
# link_vmlinux.sh LD @PARAMS OUT [OBJTOOL ARGS...]
# Runs the vmlinux.o link, then objtool on the result in place, as Kbuild's
# cmd_ld_vmlinux.o does for LTO.  An action executable, so that no shell path
# appears on the command line.
set -eu
ld=$1
params=$2
out=$3
shift 3
"$ld" "$params"
[ $# -eq 0 ] || "$@" "$out"
