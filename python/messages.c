/*
 * libipc for Python: the messages of a Context: schedule(), write(),
 * read(), wait(), and the receive buffer they share.
 *
 * SPDX-License-Identifier: ISC
 */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binding.h"

typedef struct ipcpy_context Context;

static int grow_buffer(Context *self, size_t needed)
{
	char *bigger = realloc(self->buf, needed);

	if (!bigger) {
		PyErr_NoMemory();
		return -1;
	}
	self->buf = bigger;
	self->bufsize = needed;
	return 0;
}

/* After a large message, the buffer goes back to a modest size. */
static void trim_buffer(Context *self)
{
	char *smaller;

	if (self->bufsize <= BUFFER_SIZE_KEPT)
		return;
	smaller = realloc(self->buf, BUFFER_SIZE_INITIAL);
	if (smaller) {
		self->buf = smaller;
		self->bufsize = BUFFER_SIZE_INITIAL;
	}
}

static double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds for ipc_wait_event_timeout(): rounded up, -1 for None. */
static int timeout_ms(double seconds)
{
	double ms = ceil(seconds * 1000.0);

	if (ms <= 0)
		return 0;
	if (ms >= INT_MAX)
		return INT_MAX;
	return (int)ms;
}

const char ipcpy_schedule_doc[] = PyDoc_STR(
"schedule(fd, data)\n--\n\n"
"Queue one message (any bytes-like object); never blocks.\n"
"\n"
"The payload is copied; a MESSAGE_TX event follows once it is written.\n"
"OSError(EMSGSIZE) above max_message_size, OSError(ENOBUFS) when the\n"
"queue is full, BrokenPipeError when the peer is gone (ipc_schedule(3)).");

PyObject *ipcpy_schedule(Context *self, PyObject *const *args,
				  Py_ssize_t nargs)
{
	Py_buffer data;
	int fd, ret;

	if (nargs != 2) {
		PyErr_Format(PyExc_TypeError,
			     "schedule() takes 2 arguments (%zd given)", nargs);
		return NULL;
	}
	fd = ipcpy_as_int(args[0]);
	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0)
		return NULL;
	ret = ipcpy_check_usable(self);
	if (ret == 0)
		ret = ipc_schedule(self->ctx, fd, data.buf, (size_t)data.len);
	PyBuffer_Release(&data);
	if (ret == -1 && PyErr_Occurred())
		return NULL;
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	Py_RETURN_NONE;
}

const char ipcpy_write_doc[] = PyDoc_STR(
"write(fd, data)\n--\n\n"
"Write one message (any bytes-like object) before returning.\n"
"\n"
"Messages scheduled before it leave first.  No MESSAGE_TX event follows.\n"
"The GIL is released while writing.  BrokenPipeError when the peer is\n"
"gone (ipc_write(3)).");

PyObject *ipcpy_write(Context *self, PyObject *args)
{
	Py_buffer data;
	int fd, ret;

	if (!PyArg_ParseTuple(args, "iy*:write", &fd, &data))
		return NULL;
	if (ipcpy_check_usable(self) < 0) {
		PyBuffer_Release(&data);
		return NULL;
	}
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	ret = ipc_write(self->ctx, fd, data.buf, (size_t)data.len);
	Py_END_ALLOW_THREADS
	self->busy = 0;
	PyBuffer_Release(&data);
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	Py_RETURN_NONE;
}

const char ipcpy_read_doc[] = PyDoc_STR(
"read(fd) -> bytes\n\n"
"Read one whole message from the connection FD, waiting for it.\n"
"\n"
"Any size up to max_message_size is returned whole.  The GIL is\n"
"released while waiting.  ConnectionResetError when the peer went away;\n"
"its DISCONNECTION event follows from wait() (ipc_read_fd(3)).");

PyObject *ipcpy_read(Context *self, PyObject *arg)
{
	PyObject *message;
	size_t len;
	int fd, ret;

	fd = ipcpy_as_int(arg);
	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (ipcpy_check_usable(self) < 0)
		return NULL;
	for (;;) {
		len = self->bufsize;
		self->busy = 1;
		Py_BEGIN_ALLOW_THREADS
		ret = ipc_read_fd(self->ctx, fd, self->buf, &len);
		Py_END_ALLOW_THREADS
		self->busy = 0;
		if (ret == -EMSGSIZE && len > self->bufsize) {
			if (grow_buffer(self, len) < 0)
				return NULL;
			continue;
		}
		if (ret == -EINTR) {
			if (PyErr_CheckSignals() < 0)
				return NULL;
			continue;
		}
		break;
	}
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	message = PyBytes_FromStringAndSize(self->buf, (Py_ssize_t)len);
	trim_buffer(self);
	return message;
}

const char ipcpy_wait_doc[] = PyDoc_STR(
"wait(timeout=None) -> Event | None\n\n"
"Wait for the next event and return it.\n"
"\n"
"TIMEOUT is in seconds (a float); None waits as long as needed, 0 never\n"
"blocks.  Returns None when the timeout passed without an event; nothing\n"
"is lost.  Messages of any size up to max_message_size are returned\n"
"whole.  The GIL is released while waiting; a signal whose Python\n"
"handler raises (KeyboardInterrupt) ends the wait with that exception,\n"
"others resume it.  FileNotFoundError (ENOENT) when the context holds\n"
"no fd and no timer (ipc_wait_event_timeout(3)).");

/* wait()'s argument: positional or timeout=, None or seconds. */
static int wait_timeout(PyObject *const *args, Py_ssize_t nargs,
			PyObject *kwnames, PyObject **timeout)
{
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

	*timeout = Py_None;
	if (nargs + nkw > 1) {
		PyErr_SetString(PyExc_TypeError,
				"wait() takes at most 1 argument");
		return -1;
	}
	if (nkw == 1 &&
	    PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
					     "timeout") != 0) {
		PyErr_Format(PyExc_TypeError,
			     "wait() got an unexpected keyword argument %R",
			     PyTuple_GET_ITEM(kwnames, 0));
		return -1;
	}
	if (nargs + nkw == 1)
		*timeout = args[0];
	return 0;
}

/*
 * An event already known (more messages from one read, sent messages)
 * is taken without letting the GIL go: a stream costs one call each.
 * Otherwise the wait runs without the GIL.
 */
PyObject *ipcpy_wait(Context *self, PyObject *const *args,
			      Py_ssize_t nargs, PyObject *kwnames)
{
	PyObject *timeout;
	double seconds = 0, deadline = 0;
	size_t index, len;
	int fd, newfd, ret, ms = -1;
	char type;

	if (wait_timeout(args, nargs, kwnames, &timeout) < 0)
		return NULL;
	if (timeout != Py_None) {
		seconds = PyFloat_AsDouble(timeout);
		if (seconds == -1.0 && PyErr_Occurred())
			return NULL;
		if (isnan(seconds) || seconds < 0) {
			PyErr_SetString(PyExc_ValueError,
					"timeout must be None or >= 0");
			return NULL;
		}
		ms = timeout_ms(seconds);
		if (ms > 0)
			deadline = monotonic_seconds() + seconds;
	}
	if (ipcpy_check_usable(self) < 0)
		return NULL;
	for (;;) {
		len = self->bufsize;
		ret = ipc_wait_event_timeout(self->ctx, &type, &index, &fd,
					     &newfd, self->buf, &len, 0);
		if (ret == -EAGAIN && ms != 0) {
			len = self->bufsize;
			self->busy = 1;
			Py_BEGIN_ALLOW_THREADS
			ret = ipc_wait_event_timeout(self->ctx, &type, &index,
						     &fd, &newfd, self->buf,
						     &len, ms);
			Py_END_ALLOW_THREADS
			self->busy = 0;
		}
		if (ret == -EMSGSIZE && len > self->bufsize) {
			/* The message is kept for the next call. */
			if (grow_buffer(self, len) < 0)
				return NULL;
			continue;
		}
		if (ret == -EINTR) {
			if (PyErr_CheckSignals() < 0)
				return NULL;
			if (ms > 0)
				ms = timeout_ms(deadline - monotonic_seconds());
			continue;
		}
		break;
	}
	if (ret == -EAGAIN)
		Py_RETURN_NONE;
	if (ret < 0)
		return ipcpy_raise(-ret, NULL);
	/* SWITCH_RX reports the forwarded length; the buffer has its start. */
	if (len > self->bufsize)
		len = self->bufsize;
	{
		PyObject *event = ipcpy_event_new(type, index, fd, newfd,
						  self->buf, len);

		trim_buffer(self);
		return event;
	}
}

