#!/bin/sh
# Tool shim that Kbuild runs as $(CC), $(LD) and $(PERL) during translation.
#
# Kbuild stays the source of truth: it decides every object and every flag;
# this shim only writes down what it was asked to do.  A ThinLTO compile
# (`-c ... -flto=thin ... -o X.o`) is recorded and answered with a placeholder
# object instead of being compiled, so translation costs a fraction of a
# build.  Native compiles (assembly, vDSO, realmode, -fno-lto files) run for
# real and are recorded too.  The vmlinux.o link and the initcall-order script
# are recorded and answered with placeholders, because their real run needs
# bitcode.  Everything else runs the real tool untouched.
#
# Usage (set up by tools/kthinlto/kbuild.py, not by hand), either
#   KTHINLTO_SHIM_LOG=DIR KTHINLTO_SHIM_STUB=stub.o shim.sh cc|ld|perl REAL ARGS...
# or through a link named like the real tool (clang-19, ld.lld-19, perl),
# which saves a process per call.
# Each record is a file in DIR: NUL-separated kind, cwd, then the argv.
# POSIX sh on purpose, with builtins only where it can: it runs once per
# compile, and sh starts in a millisecond.
case ${0##*/} in
shim.sh)
	role=$1
	real=$2
	shift 2
	;;
*)
	real=${0##*/}
	case $real in
	ld*) role=ld ;;
	perl*) role=perl ;;
	*) role=cc ;;
	esac
	;;
esac
log=${KTHINLTO_SHIM_LOG:-}
[ -n "$log" ] || exec "$real" "$@"

record() {
	kind=$1
	shift
	# The PID names the record; noclobber settles a reused PID.
	n=$$
	set -C
	until { printf '%s\0' "$kind" "$PWD" "$@" >"$log/$n.rec"; } 2>/dev/null; do
		n=$n+
	done
	set +C
}

case $role in
ld)
	out=
	prev=
	for a in "$@"; do
		[ "$prev" = -o ] && out=$a
		prev=$a
	done
	[ "$out" = vmlinux.o ] || exec "$real" "$@"
	# record() takes the kind as its first argument, then the argv.
	set -- link "$@"
	record "$@"
	cp "$KTHINLTO_SHIM_STUB" vmlinux.o
	exit 0
	;;
perl)
	case ${1:-} in
	*generate_initcall_order.pl) ;;
	*) exec "$real" "$@" ;;
	esac
	set -- initcalls "$@"
	record "$@"
	printf 'SECTIONS {\n}\n'
	exit 0
	;;
esac

# cc
compile=
lto=
out=
dep=
src=
prev=
for a in "$@"; do
	case $prev in -o) out=$a ;; esac
	case $a in
	-c) compile=1 ;;
	-flto | -flto=*) lto=1 ;;
	-fno-lto) lto= ;;
	-Wp,-MMD,* | -Wp,-MD,*) dep=${a#-Wp,-M*D,} ;;
	-*) ;;
	*.c | *.S) src=$a ;;
	esac
	prev=$a
done
case $out in *.o) ;; *) compile= ;; esac
[ -n "$compile" ] || exec "$real" "$@"
if [ -z "$lto" ]; then
	set -- native "$@"
	record "$@"
	shift
	exec "$real" "$@"
fi
set -- bitcode "$@"
record "$@"
shift
cp "$KTHINLTO_SHIM_STUB" "$out"
# fixdep wants a dependency file with at least the source in it.
[ -z "$dep" ] || printf '%s: %s\n' "$out" "$src" >"$dep"
exit 0
