/*
 * libipc for Python: the Context type.
 *
 * Every method checks that the context is open and that no other thread
 * is inside a call of it (a call that waits runs without the GIL, and a
 * libipc context is not thread-safe): ValueError and RuntimeError, never
 * a crash.
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
#include <structmember.h>

/* The receive buffer: its first size, and the size it shrinks back to. */
#define BUFFER_SIZE_INITIAL (64 * 1024)
#define BUFFER_SIZE_KEPT (1024 * 1024)

typedef struct ipcpy_context Context;

/* An int argument (an fd, milliseconds): TypeError or OverflowError. */
static int as_int(PyObject *obj)
{
	long value = PyLong_AsLong(obj);

	if (value == -1 && PyErr_Occurred())
		return -1;
	if (value < INT_MIN || value > INT_MAX) {
		PyErr_SetString(PyExc_OverflowError,
				"Python int too large to convert to C int");
		return -1;
	}
	return (int)value;
}

static int check_usable(Context *self)
{
	if (!self->ctx) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a closed libipc.Context");
		return -1;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"libipc.Context is in use by another thread");
		return -1;
	}
	return 0;
}

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

/*
 * A service name as the C API takes it: str (encoded as file names are)
 * or bytes, 1 to 65535 bytes, no '/' nor NUL, not "." nor "..".  Returns
 * a new bytes object, or NULL with ValueError or TypeError set.
 */
static PyObject *service_name(PyObject *name)
{
	PyObject *bytes = NULL;
	const char *s;
	Py_ssize_t len;

	if (!PyUnicode_FSConverter(name, &bytes))
		return NULL;
	s = PyBytes_AS_STRING(bytes);
	len = PyBytes_GET_SIZE(bytes);
	if (len == 0 || len > UINT16_MAX || memchr(s, '/', (size_t)len) ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		PyErr_Format(PyExc_ValueError,
			     "invalid service name %R: 1 to 65535 bytes, "
			     "without '/', not '.' nor '..'", name);
		Py_DECREF(bytes);
		return NULL;
	}
	return bytes;
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

static PyObject *context_new(PyTypeObject *type, PyObject *args,
			     PyObject *kwds)
{
	static char kw_max[] = "max_message_size";
	static char *kwlist[] = { kw_max, NULL };
	Py_ssize_t max = IPC_MAX_MESSAGE_SIZE_DEFAULT;
	Context *self;
	int ret;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n:Context", kwlist,
					 &max))
		return NULL;
	if (max <= 0 || (uint64_t)max > UINT32_MAX) {
		PyErr_Format(PyExc_ValueError,
			     "max_message_size %zd is not between 1 and %lu",
			     max, (unsigned long)UINT32_MAX);
		return NULL;
	}
	self = (Context *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->bufsize = BUFFER_SIZE_INITIAL;
	self->buf = malloc(self->bufsize);
	if (!self->buf) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	ret = ipc_context_init(&self->ctx);
	if (ret == 0)
		ret = ipc_context_max_message_size(self->ctx, (size_t)max);
	if (ret < 0) {
		Py_DECREF(self);
		return ipcpy_raise(-ret, NULL);
	}
	self->max_message = (size_t)max;
	return (PyObject *)self;
}

static void context_dealloc(Context *self)
{
	PyTypeObject *type = Py_TYPE(self);

	ipc_context_deinit(&self->ctx);
	free(self->buf);
	type->tp_free(self);
	Py_DECREF(type);
}

PyDoc_STRVAR(deinit_doc,
"deinit()\n--\n\n"
"Close every fd of the context and free it (ipc_context_deinit(3)).\n"
"\n"
"Services remove their socket and lock files.  The context is closed:\n"
"any later call but deinit() raises ValueError.  Leaving a 'with'\n"
"block calls it.");

static PyObject *context_deinit(Context *self, PyObject *unused)
{
	(void)unused;
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"libipc.Context is in use by another thread");
		return NULL;
	}
	ipc_context_deinit(&self->ctx);
	Py_RETURN_NONE;
}

static PyObject *context_enter(Context *self, PyObject *unused)
{
	(void)unused;
	if (check_usable(self) < 0)
		return NULL;
	return Py_NewRef((PyObject *)self);
}

static PyObject *context_exit(Context *self, PyObject *args)
{
	(void)args;
	return context_deinit(self, NULL);
}

PyDoc_STRVAR(service_doc,
"service(name) -> int\n--\n\n"
"Create the service NAME in the run directory; return its listening fd.\n"
"\n"
"NAME is a str or bytes of 1 to 65535 bytes, without '/'.  Each new\n"
"client is a CONNECTION event.  FileExistsError, PermissionError,\n"
"OSError(EADDRINUSE) when a live instance holds the name, ...\n"
"(ipc_service_init(3)).");

static PyObject *context_service(Context *self, PyObject *name)
{
	PyObject *bytes;
	int fd, ret;

	if (check_usable(self) < 0)
		return NULL;
	bytes = service_name(name);
	if (!bytes)
		return NULL;
	ret = ipc_service_init(self->ctx, &fd, PyBytes_AS_STRING(bytes),
			       (uint16_t)PyBytes_GET_SIZE(bytes));
	Py_DECREF(bytes);
	if (ret < 0)
		return ipcpy_raise(-ret, name);
	return PyLong_FromLong(fd);
}

PyDoc_STRVAR(connect_doc,
"connect(name) -> int\n--\n\n"
"Connect to the service NAME; return the connection's fd.\n"
"\n"
"FileNotFoundError when no such service exists, ConnectionRefusedError\n"
"when nobody listens on its socket, ... (ipc_connect_service(3); with\n"
"IPC_NETWORK, through ipcd).  The GIL is released while connecting.");

static PyObject *context_connect(Context *self, PyObject *name)
{
	PyObject *bytes;
	int fd, ret;

	if (check_usable(self) < 0)
		return NULL;
	bytes = service_name(name);
	if (!bytes)
		return NULL;
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	ret = ipc_connect_service(self->ctx, &fd, PyBytes_AS_STRING(bytes),
				  (uint16_t)PyBytes_GET_SIZE(bytes));
	Py_END_ALLOW_THREADS
	self->busy = 0;
	Py_DECREF(bytes);
	if (ret < 0)
		return ipcpy_raise(-ret, name);
	return PyLong_FromLong(fd);
}

PyDoc_STRVAR(schedule_doc,
"schedule(fd, data)\n--\n\n"
"Queue one message (any bytes-like object); never blocks.\n"
"\n"
"The payload is copied; a MESSAGE_TX event follows once it is written.\n"
"OSError(EMSGSIZE) above max_message_size, OSError(ENOBUFS) when the\n"
"queue is full, BrokenPipeError when the peer is gone (ipc_schedule(3)).");

static PyObject *context_schedule(Context *self, PyObject *const *args,
				  Py_ssize_t nargs)
{
	Py_buffer data;
	int fd, ret;

	if (nargs != 2) {
		PyErr_Format(PyExc_TypeError,
			     "schedule() takes 2 arguments (%zd given)", nargs);
		return NULL;
	}
	fd = as_int(args[0]);
	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0)
		return NULL;
	ret = check_usable(self);
	if (ret == 0)
		ret = ipc_schedule(self->ctx, fd, data.buf, (size_t)data.len);
	PyBuffer_Release(&data);
	if (ret == -1 && PyErr_Occurred())
		return NULL;
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(write_doc,
"write(fd, data)\n--\n\n"
"Write one message (any bytes-like object) before returning.\n"
"\n"
"Messages scheduled before it leave first.  No MESSAGE_TX event follows.\n"
"The GIL is released while writing.  BrokenPipeError when the peer is\n"
"gone (ipc_write(3)).");

static PyObject *context_write(Context *self, PyObject *args)
{
	Py_buffer data;
	int fd, ret;

	if (!PyArg_ParseTuple(args, "iy*:write", &fd, &data))
		return NULL;
	if (check_usable(self) < 0) {
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

PyDoc_STRVAR(read_doc,
"read(fd) -> bytes\n--\n\n"
"Read one whole message from the connection FD, waiting for it.\n"
"\n"
"Any size up to max_message_size is returned whole.  The GIL is\n"
"released while waiting.  ConnectionResetError when the peer went away;\n"
"its DISCONNECTION event follows from wait() (ipc_read_fd(3)).");

static PyObject *context_read(Context *self, PyObject *arg)
{
	PyObject *message;
	size_t len;
	int fd, ret;

	fd = as_int(arg);
	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (check_usable(self) < 0)
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

PyDoc_STRVAR(wait_doc,
"wait(timeout=None) -> Event | None\n--\n\n"
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
static PyObject *context_wait(Context *self, PyObject *const *args,
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
	if (check_usable(self) < 0)
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

PyDoc_STRVAR(close_doc,
"close(fd)\n--\n\n"
"Close one connection, service or external fd of the context.\n"
"\n"
"Queued messages get one non-blocking write attempt.  No DISCONNECTION\n"
"event follows.  OSError(EBADF) when the context does not hold FD\n"
"(ipc_close_fd(3)).");

static PyObject *context_close(Context *self, PyObject *arg)
{
	int fd = as_int(arg);
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_close_fd(self->ctx, fd);
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(close_all_doc,
"close_all()\n--\n\n"
"Close every fd the context holds; the context stays usable\n"
"(ipc_close_all(3)).");

static PyObject *context_close_all(Context *self, PyObject *unused)
{
	int ret;

	(void)unused;
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_close_all(self->ctx);
	if (ret < 0)
		return ipcpy_raise(-ret, NULL);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(add_external_doc,
"add_external(fd)\n--\n\n"
"Watch FD: an EXTERNAL event each time it is readable.\n"
"\n"
"The context owns FD from now on and closes it (detach it from any\n"
"Python object that would close it too, e.g. socket.detach()).\n"
"FileExistsError when the context holds it already (ipc_add_external(3)).");

static PyObject *context_add_external(Context *self, PyObject *arg)
{
	int fd = as_int(arg);
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_add_external(self->ctx, fd);
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(add_switch_doc,
"add_switch(fd1, fd2)\n--\n\n"
"Relay every message between two fds of the context: SWITCH_RX when one\n"
"is read, SWITCH_TX when it was written (ipc_add_switch(3)).");

static PyObject *context_add_switch(Context *self, PyObject *args)
{
	int fd1, fd2, ret;

	if (!PyArg_ParseTuple(args, "ii:add_switch", &fd1, &fd2))
		return NULL;
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_add_switch(self->ctx, fd1, fd2);
	if (ret < 0) {
		PyObject *what = PyUnicode_FromFormat("fds %d and %d", fd1,
						      fd2);

		if (what) {
			ipcpy_raise(-ret, what);
			Py_DECREF(what);
		}
		return NULL;
	}
	Py_RETURN_NONE;
}

PyDoc_STRVAR(peer_credentials_doc,
"peer_credentials(fd) -> (pid, uid, gid)\n--\n\n"
"Who is at the other end of a connection, as the kernel recorded it\n"
"(SO_PEERCRED; ipc_peer_credentials(3)).");

static PyObject *context_peer_credentials(Context *self, PyObject *arg)
{
	int fd = as_int(arg);
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_peer_credentials(self->ctx, fd, &pid, &uid, &gid);
	if (ret < 0)
		return ipcpy_raise_fd(-ret, fd);
	return Py_BuildValue("(lkk)", (long)pid, (unsigned long)uid,
			     (unsigned long)gid);
}

PyDoc_STRVAR(queue_limits_doc,
"queue_limits(high_water, max)\n--\n\n"
"Bound what is queued per connection: schedule() refuses with\n"
"OSError(ENOBUFS) above MAX; a switch stops reading one side while more\n"
"than HIGH_WATER waits for the other (ipc_context_queue_limits(3)).");

static PyObject *context_queue_limits(Context *self, PyObject *args)
{
	Py_ssize_t high, max;
	int ret;

	if (!PyArg_ParseTuple(args, "nn:queue_limits", &high, &max))
		return NULL;
	if (high <= 0 || max < high) {
		PyErr_SetString(PyExc_ValueError,
				"queue_limits: 0 < high_water <= max");
		return NULL;
	}
	if (check_usable(self) < 0)
		return NULL;
	ret = ipc_context_queue_limits(self->ctx, (size_t)high, (size_t)max);
	if (ret < 0)
		return ipcpy_raise(-ret, NULL);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(fileno_doc,
"fileno() -> int\n--\n\n"
"The fd another event loop watches for input to drive the context.\n"
"\n"
"Readable exactly while wait(0) has something to do.  Never read, write\n"
"or close it.  OSError(EOPNOTSUPP) with the poll(2) backend\n"
"(ipc_context_fd(3)).");

static PyObject *context_fileno(Context *self, PyObject *unused)
{
	int fd;

	(void)unused;
	if (check_usable(self) < 0)
		return NULL;
	fd = ipc_context_fd(self->ctx);
	if (fd < 0)
		return ipcpy_raise(-fd, NULL);
	return PyLong_FromLong(fd);
}

static PyObject *context_get_timer(Context *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(self->timer);
}

static int context_set_timer(Context *self, PyObject *value, void *closure)
{
	int ms;

	(void)closure;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "cannot delete timer");
		return -1;
	}
	ms = as_int(value);
	if (ms == -1 && PyErr_Occurred())
		return -1;
	if (check_usable(self) < 0)
		return -1;
	if (ms < 0)
		ms = 0;
	ipc_context_timer(self->ctx, ms);
	self->timer = ms;
	return 0;
}

static PyObject *context_get_max(Context *self, void *closure)
{
	(void)closure;
	return PyLong_FromSize_t(self->max_message);
}

static PyObject *context_get_closed(Context *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->ctx == NULL);
}

static PyObject *context_repr(Context *self)
{
	if (!self->ctx)
		return PyUnicode_FromString("<libipc.Context closed>");
	return PyUnicode_FromFormat("<libipc.Context max_message_size=%zu "
				    "timer=%d>", self->max_message,
				    self->timer);
}

static PyMethodDef context_methods[] = {
	{ "service", (PyCFunction)context_service, METH_O, service_doc },
	{ "connect", (PyCFunction)context_connect, METH_O, connect_doc },
	{ "schedule", (PyCFunction)(void (*)(void))context_schedule,
	  METH_FASTCALL, schedule_doc },
	{ "write", (PyCFunction)context_write, METH_VARARGS, write_doc },
	{ "read", (PyCFunction)context_read, METH_O, read_doc },
	{ "wait", (PyCFunction)(void (*)(void))context_wait,
	  METH_FASTCALL | METH_KEYWORDS, wait_doc },
	{ "close", (PyCFunction)context_close, METH_O, close_doc },
	{ "close_all", (PyCFunction)context_close_all, METH_NOARGS,
	  close_all_doc },
	{ "add_external", (PyCFunction)context_add_external, METH_O,
	  add_external_doc },
	{ "add_switch", (PyCFunction)context_add_switch, METH_VARARGS,
	  add_switch_doc },
	{ "peer_credentials", (PyCFunction)context_peer_credentials, METH_O,
	  peer_credentials_doc },
	{ "queue_limits", (PyCFunction)context_queue_limits, METH_VARARGS,
	  queue_limits_doc },
	{ "fileno", (PyCFunction)context_fileno, METH_NOARGS, fileno_doc },
	{ "deinit", (PyCFunction)context_deinit, METH_NOARGS, deinit_doc },
	{ "__enter__", (PyCFunction)context_enter, METH_NOARGS,
	  "Return the context itself." },
	{ "__exit__", (PyCFunction)context_exit, METH_VARARGS,
	  "deinit() the context." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef context_getset[] = {
	{ "timer", (getter)context_get_timer, (setter)context_set_timer,
	  "Period of the TIMER event in milliseconds, 0 for none "
	  "(ipc_context_timer(3)).", NULL },
	{ "max_message_size", (getter)context_get_max, NULL,
	  "The largest payload the context sends or accepts, set by "
	  "Context(max_message_size=...).", NULL },
	{ "closed", (getter)context_get_closed, NULL,
	  "True once deinit() ran (or the with block ended).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyMemberDef context_members[] = {
	{ "_async_waiting", T_INT,
	  offsetof(struct ipcpy_context, async_waiting), 0,
	  "internal: a wait_async() is pending" },
	{ NULL, 0, 0, 0, NULL },
};

PyDoc_STRVAR(context_doc,
"Context(max_message_size=MAX_MESSAGE_SIZE_DEFAULT)\n--\n\n"
"A libipc context: services, connections, a timer, one event loop.\n"
"\n"
"Use it as a context manager: leaving the block closes every fd and\n"
"removes the services' socket and lock files.  MAX_MESSAGE_SIZE is the\n"
"largest payload sent or accepted (1 to 2**32 - 1; a peer announcing\n"
"more is disconnected).  A context belongs to one thread at a time.");

static PyType_Slot context_slots[] = {
	{ Py_tp_new, context_new },
	{ Py_tp_dealloc, context_dealloc },
	{ Py_tp_repr, context_repr },
	{ Py_tp_methods, context_methods },
	{ Py_tp_getset, context_getset },
	{ Py_tp_members, context_members },
	{ Py_tp_doc, (void *)context_doc },
	{ 0, NULL },
};

static PyType_Spec context_spec = {
	.name = "libipc.Context",
	.basicsize = sizeof(struct ipcpy_context),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.slots = context_slots,
};

PyTypeObject *ipcpy_context_type_new(PyObject *module)
{
	return (PyTypeObject *)PyType_FromModuleAndSpec(module, &context_spec,
							NULL);
}
