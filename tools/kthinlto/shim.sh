#!/bin/sh
# Tool shim that Kbuild runs as $(CC), $(LD) and $(PERL) during translation.
#
# Kbuild stays the source of truth: it decides every object and every flag;
# this shim only writes down what it was asked to do.  A ThinLTO compile
# (`-c ... -flto=thin ... -o X.o`) is recorded and answered with a placeholder
# object instead of being compiled, so translation costs a fraction of a
# build.  Native compiles (assembly, vDSO, realmode, -fno-lto files) run for
# real and are recorded too.  Relocatable links (vmlinux.o, modules) and the
# initcall-order script are recorded and answered with placeholders, because
# their real run needs bitcode.  Everything else runs the real tool untouched.
#
# Compiler probes (cc-option and friends, which read /dev/null or stdin) are
# answered from KTHINLTO_PROBE_CACHE when it is set: Kconfig and Kbuild ask
# the same few hundred questions in every conf and make run of a translation.
#
# Usage (set up by tools/kthinlto/kbuild.py, not by hand), either
#   KTHINLTO_SHIM_LOG=DIR KTHINLTO_SHIM_STUB=stub.o shim.sh cc|ld|perl REAL ARGS...
# or through a link named like the real tool (clang-19, ld.lld-19, perl)
# in a directory first on PATH: Kbuild then runs and saves the same
# commands as with the real tools, so its own rules, run later on the
# translated tree (rules/private/kbuild_tail.sh), find nothing to redo.
# Each record is a file in DIR: NUL-separated kind, cwd, then the argv.
# POSIX sh on purpose, with builtins only where it can: it runs once per
# compile, and sh starts in a millisecond.
#
# As $(NM) (a link named llvm-nm-19), it answers for placeholder objects
# (which have no symbols) without starting llvm-nm, and runs the real nm on
# everything else.
case ${0##*/} in
shim.sh)
	role=$1
	real=$2
	shift 2
	;;
*)
	real=${0##*/}
	# Found first on PATH (kbuild.py puts the shim directory in front, so
	# that Kbuild's saved commands name the real tools): the real one is
	# the next on PATH.
	PATH=${PATH#"${0%/*}:"}
	case $real in
	ld*) role=ld ;;
	perl*) role=perl ;;
	modpost) role=modpost ;;
	*nm*) role=nm ;;
	*) role=cc ;;
	esac
	;;
esac
log=${KTHINLTO_SHIM_LOG:-}
if [ "$role" = modpost ]; then
	# As Kbuild's $(MODPOST) (kbuild.record_goals): the tree's own modpost
	# over placeholder objects.  It writes each module's .mod.c, which
	# modfinal then compiles (recorded like every compile), and fails on
	# what placeholders lack (a license): only those files matter here.
	# Kbuild saves this command (.Module.symvers.cmd); the modpost action
	# runs it for real on the Bazel-built objects.
	scripts/mod/modpost "$@" >/dev/null 2>&1 || :
	exit 0
fi
if [ -z "$log" ]; then
	# Without a record directory only probes are answered (from the cache).
	[ "$role" = cc ] && [ -n "${KTHINLTO_PROBE_CACHE:-}" ] || exec "$real" "$@"
fi

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
nm)
	# Kbuild runs $(NM) on every object it compiles (check-local-export).
	# A placeholder has no symbols, so the real nm would print nothing.
	case $# in 1)
		case $1 in -*) ;; *)
			cmp -s -- "$1" "$KTHINLTO_SHIM_STUB" && exit 0
			;;
		esac
		;;
	esac
	exec "$real" "$@"
	;;
ld)
	# Links whose input is a placeholder need bitcode the translation does
	# not compile: they are recorded (vmlinux.o, and each module's ThinLTO
	# link: `-r -o dir/.tmp_x.o dir/x.o` for a module of one object,
	# `-r -o dir/x.o @dir/x.mod` for one of several).  Every other link
	# (the vDSO, the realmode blob, host tools) runs for real.
	out=
	prev=
	stubbed=
	for a in "$@"; do
		case $prev in
		-o) out=$a ;;
		*)
			case $a in
			@*)
				while read -r f; do
					cmp -s -- "$f" "$KTHINLTO_SHIM_STUB" && stubbed=1
				done <"${a#@}"
				;;
			-*) ;;
			*.o) cmp -s -- "$a" "$KTHINLTO_SHIM_STUB" && stubbed=1 ;;
			esac
			;;
		esac
		prev=$a
	done
	[ "$out" = vmlinux.o ] || [ -n "$stubbed" ] || exec "$real" "$@"
	# record() takes the kind as its first argument, then the argv.
	set -- link "$@"
	record "$@"
	cp "$KTHINLTO_SHIM_STUB" "$out"
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
# A probe (Kconfig's and Kbuild's cc-option, as-instr, cc-version.sh, ...)
# reads /dev/null or stdin, or nothing, and writes /dev/null or a scratch
# .tmp_PID file: only its output streams and exit code matter.
probe=
stdin=
for a in "$@"; do
	case $prev in
	-o)
		out=$a
		case $a in /dev/null | - | *.tmp_*) ;; *) probe=no ;; esac
		;;
	esac
	case $a in
	-c) compile=1 ;;
	-flto | -flto=*) lto=1 ;;
	-fno-lto) lto= ;;
	-Wp,-MMD,* | -Wp,-MD,*)
		dep=${a#-Wp,-M*D,}
		probe=no
		;;
	/dev/null | --version | -print-*) [ -n "$probe" ] || probe=1 ;;
	-)
		[ -n "$probe" ] || probe=1
		stdin=1
		;;
	-*) ;;
	*.c | *.S)
		src=$a
		probe=no
		;;
	*.o | *.s | *.so | *.lds | *.a) [ "$prev" = -o ] || probe=no ;;
	esac
	prev=$a
done
if [ "$probe" = 1 ] && [ -n "${KTHINLTO_PROBE_CACHE:-}" ]; then
	# Memoized for one translation: the same question gets the same answer
	# from the same compiler, and Kbuild asks it in every conf and make run.
	# Few processes on purpose: a hit must cost far less than a clang start.
	cache=$KTHINLTO_PROBE_CACHE
	in=/dev/null
	if [ -n "$stdin" ]; then
		in=$cache/stdin.$$
		cat >"$in"
	fi
	# The key: compiler, directory, arguments (a scratch .tmp_<pid> made
	# neutral) and standard input.
	key=$({
		printf '%s\0' "$real" "$PWD"
		for a in "$@"; do
			case $a in
			*.tmp_[0-9]*)
				rest=${a#*.tmp_}
				a=${a%%.tmp_*}.tmp_${rest#"${rest%%[!0-9]*}"}
				;;
			esac
			printf '%s\0' "$a"
		done
		[ "$in" = /dev/null ] || cat "$in"
	} | md5sum)
	key=$cache/${key%% *}
	if [ ! -f "$key" ]; then
		rc=0
		"$real" "$@" <"$in" >"$key.out.$$" 2>"$key.err.$$" || rc=$?
		# The answer is published by one rename: "exit code, writer's pid".
		echo "$rc $$" >"$key.new.$$"
		mv -f "$key.new.$$" "$key"
	fi
	[ "$in" = /dev/null ] || rm -f "$in"
	read -r rc pid <"$key"
	[ ! -s "$key.out.$pid" ] || cat "$key.out.$pid"
	[ ! -s "$key.err.$pid" ] || cat "$key.err.$pid" >&2
	exit "$rc"
fi
case $out in *.o) ;; *) compile= ;; esac
[ -n "$compile" ] && [ -n "$log" ] || exec "$real" "$@"
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
