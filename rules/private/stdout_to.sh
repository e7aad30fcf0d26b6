#!/bin/sh
# stdout_to.sh OUT CMD ARGS...: runs CMD with its standard output in OUT.
# An action executable, so that no shell path appears on the command line.
set -eu
out=$1
shift
"$@" >"$out"
