#!/bin/sh
# test-embed-examples.sh - pongd inside GLib, libuv and sd-event loops.
#
# Runs tests/test-examples.sh with each example of EMBED_PONGDS (those
# configure could build: examples/glib-pongd, uv-pongd, sd-event-pongd) in
# the place of pongd: the same messages, the same stop on SIGTERM.
#
# Run by make check, which exports EMBED_PONGDS (empty with the poll(2)
# backend, which has no context fd), PONG and top_srcdir.
# Exit status: 0 pass, 1 fail, 77 skipped (no example built), 99 error.
#
# SPDX-License-Identifier: ISC

set -u

if [ -z "${EMBED_PONGDS:-}" ]; then
	echo "SKIP: no example built (no event loop library found by configure, or the poll backend)"
	exit 77
fi
status=0
for example in $EMBED_PONGDS; do
	echo "=== $example"
	PONGD=$example "${SHELL:-/bin/sh}" "${top_srcdir:-.}/tests/test-examples.sh"
	rc=$?
	case $rc in
	0) echo "PASS: $example" ;;
	99) exit 99 ;;
	*) echo "FAIL: $example"; status=1 ;;
	esac
done
exit $status
