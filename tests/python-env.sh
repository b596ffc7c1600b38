# shellcheck shell=sh
# python-env.sh - sourced by the scripts that run Python against the
# module and library of the build tree (python-run.sh, which runs the
# tests/test-python-*.py, and test-python-examples.sh).
#
# Exits 77 (skipped) when configure did not build the module
# (LIBIPC_PYTHON is not yes), and under make check-valgrind ($VALGRIND
# set), which runs C programs under memcheck: the interpreter is run under
# valgrind by hand, as doc/reliability.md says.  Otherwise puts the module
# (python/.libs/libipc.so) and the library (lib/.libs/libipc.so.0) of
# $top_builddir first on PYTHONPATH and LD_LIBRARY_PATH, and keeps Python
# from writing bytecode: the tests and examples live in the source tree,
# read-only under make distcheck.
#
# SPDX-License-Identifier: ISC

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
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
