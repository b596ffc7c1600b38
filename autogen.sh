#!/bin/sh
# Bootstrap a git checkout: generate configure and the Makefile.in files.
exec autoreconf -fi "$@"
