#!/bin/sh
# print_listing.sh --defined-only LISTING: stands in for $NM when Kbuild's
# generate_initcall_order.pl runs over the listings initcall_scan.sh wrote
# (the script calls "$NM --defined-only FILE" once per object).  Most
# listings are empty: those cost no cat.
[ -s "$2" ] || exit 0
exec cat "$2"
