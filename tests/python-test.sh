#!/bin/sh
# Runs a Python test of make check (TAP on stdout) with the python3 that
# configure found; without one the test is skipped, and counted.
#
# SPDX-License-Identifier: ISC
if [ -z "$PYTHON3" ] || ! [ -x "$PYTHON3" ]; then
	echo "1..0 # SKIP no python3 (configure found none)"
	exit 0
fi
exec "$PYTHON3" "$@"
