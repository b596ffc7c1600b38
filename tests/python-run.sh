#!/bin/sh
# python-run.sh TEST.py - run a test of the Python module (python/) from
# the build tree, under python3 -X dev.
#
# make check runs every tests/test-python-*.py through it (by way of
# python-test.sh, PY_LOG_COMPILER).  python-env.sh puts the module and
# library of the build tree first on PYTHONPATH and LD_LIBRARY_PATH, or
# skips (77) when configure did not build the module and under make
# check-valgrind.
#
# Exit status: the test's (0 pass, 1 fail, 77 skipped, 99 error).
#
# SPDX-License-Identifier: ISC

set -u

# shellcheck source=tests/python-env.sh
. "$(dirname "$0")/python-env.sh"
exec ${PYTHON:-python3} -X dev "$@"
