#!/bin/sh
# relocatable_link.sh LD @PARAMS OUT [POST_LINK ARGS...]
# Runs a link unit's `ld.lld -r`, then its post-link command on the result
# in place (objtool for vmlinux.o, as Kbuild's cmd_ld_vmlinux.o does for
# LTO).  An action executable, so that no shell path appears on the command
# line.
set -eu
ld=$1
params=$2
out=$3
shift 3
"$ld" "$params"
[ $# -eq 0 ] || "$@" "$out"
