#!/bin/sh
# in_dir.sh DIR CMD ARGS...: runs CMD inside DIR (paths in ARGS are relative
# to DIR).  The ThinLTO backend runs inside its import bundle, where its own
# bitcode and the bitcode it imports sit at the paths its index names.
set -eu
cd "$1"
shift
exec "$@"
