#!/bin/sh
# python-run.sh TEST.py - run a test of the Python module (python/) from
# the build tree, under python3 -X dev.
#
# make check runs every tests/*.py through it (PY_LOG_COMPILER).  The
# module python/.libs/libipc.so and the library lib/.libs/libipc.so.0 of
# the build tree come first on PYTHONPATH and LD_LIBRARY_PATH.  Skipped
# (77) when configure did not build the module (LIBIPC_PYTHON is not
# yes), and under make check-valgrind, which runs C programs under
# memcheck: the interpreter is run under valgrind by hand, as
# doc/reliability.md says.
#
# Exit status: the test's (0 pass, 1 fail, 77 skipped, 99 error).
#
# SPDX-License-Identifier: ISC

set -u

if [ "${LIBIPC_PYTHON:-no}" != yes ]; then
	echo "SKIP: the Python module was not built (configure --enable-python)"
	exit 77
fi
if [ -n "${VALGRIND:-}" ]; then
	echo "SKIP: under make check-valgrind (Python runs under valgrind by hand)"
	exit 77
fi
top_builddir=${top_builddir:-.}
PYTHONPATH=$top_builddir/python/.libs${PYTHONPATH:+:$PYTHONPATH}
LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# The tests live in the source tree, read-only under make distcheck.
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
exec ${PYTHON:-python3} -X dev "$@"
