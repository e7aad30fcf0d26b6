#!/bin/sh
# Bazel's workspace status command (.bazelrc): keeps each build's profile
# for `./kthin report` (report_main.py reads them).
#
# Bazel writes every command's profile to <output_base>/command.profile.gz,
# truncating the last one, so a null build would lose the build before it.
# Bazel runs this at every build, after it opened that file: this makes
# command.profile.gz a link to a new file under PROFILES for the next
# command, and keeps the current build's (a file it already writes) there.
# Queries and `info` write into the next build's file, never into a kept
# one.  The newest KEEP files are kept (a null build's is a few KB).
#
# Prints nothing (Bazel would take it as status keys) and never fails a
# build: without /proc or an output base it does nothing.
PROFILES=kthinlto-profiles
KEEP=8

output_base() {
	# The Bazel server, an ancestor of this process, has --output_base on
	# its command line.
	p=$PPID
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		ob=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 's/^--output_base=//p' | head -n 1)
		if [ -n "$ob" ]; then
			echo "$ob"
			return
		fi
		p=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null)
	done
}

keep() {
	ob=$(output_base)
	[ -n "$ob" ] && [ -d "$ob" ] || return 0
	dir=$ob/$PROFILES
	cur=$ob/command.profile.gz
	mkdir -p "$dir" || return 0
	now=$(date +%s%N)
	# The first build with this command: its profile is a plain file; a
	# hard link keeps it when the link below replaces its name.
	if [ -f "$cur" ] && [ ! -L "$cur" ]; then
		ln "$cur" "$dir/$now-0.profile.gz" 2>/dev/null || true
	fi
	ln -sfn "$PROFILES/$now-1.profile.gz" "$cur.kthinlto-next" &&
		mv -fT "$cur.kthinlto-next" "$cur"
	# shellcheck disable=SC2012 # names are ours: digits and dashes
	ls -t "$dir" | tail -n "+$((KEEP + 1))" | while read -r f; do
		rm -f "$dir/$f"
	done
}

keep >/dev/null 2>&1 || true
exit 0
