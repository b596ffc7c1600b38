/*
 * libipc for Python: the Context type.
 *
 * Its life, its fds, its properties; the messages are in messages.c.
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

typedef struct ipcpy_context Context;

/* An int argument (an fd, milliseconds): TypeError or OverflowError. */
int ipcpy_as_int(PyObject *obj)
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

int ipcpy_check_usable(struct ipcpy_context *self)
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
	if (ipcpy_check_usable(self) < 0)
		return NULL;
	return Py_NewRef((PyObject *)self);
}

static PyObject *context_exit(Context *self, PyObject *args)
{
	(void)args;
	return context_deinit(self, NULL);
}

PyDoc_STRVAR(service_doc,
"service(name) -> int\n\n"
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

	if (ipcpy_check_usable(self) < 0)
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
"connect(name) -> int\n\n"
"Connect to the service NAME; return the connection's fd.\n"
"\n"
"FileNotFoundError when no such service exists, ConnectionRefusedError\n"
"when nobody listens on its socket, ... (ipc_connect_service(3); with\n"
"IPC_NETWORK, through ipcd).  The GIL is released while connecting.");

static PyObject *context_connect(Context *self, PyObject *name)
{
	PyObject *bytes;
	int fd, ret;

	if (ipcpy_check_usable(self) < 0)
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

PyDoc_STRVAR(close_doc,
"close(fd)\n--\n\n"
"Close one connection, service or external fd of the context.\n"
"\n"
"Queued messages get one non-blocking write attempt.  No DISCONNECTION\n"
"event follows.  OSError(EBADF) when the context does not hold FD\n"
"(ipc_close_fd(3)).");

static PyObject *context_close(Context *self, PyObject *arg)
{
	int fd = ipcpy_as_int(arg);
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (ipcpy_check_usable(self) < 0)
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
	if (ipcpy_check_usable(self) < 0)
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
	int fd = ipcpy_as_int(arg);
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (ipcpy_check_usable(self) < 0)
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
	if (ipcpy_check_usable(self) < 0)
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
"peer_credentials(fd) -> (pid, uid, gid)\n\n"
"Who is at the other end of a connection, as the kernel recorded it\n"
"(SO_PEERCRED; ipc_peer_credentials(3)).");

static PyObject *context_peer_credentials(Context *self, PyObject *arg)
{
	int fd = ipcpy_as_int(arg);
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int ret;

	if (fd == -1 && PyErr_Occurred())
		return NULL;
	if (ipcpy_check_usable(self) < 0)
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
	if (ipcpy_check_usable(self) < 0)
		return NULL;
	ret = ipc_context_queue_limits(self->ctx, (size_t)high, (size_t)max);
	if (ret < 0)
		return ipcpy_raise(-ret, NULL);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(fileno_doc,
"fileno() -> int\n\n"
"The fd another event loop watches for input to drive the context.\n"
"\n"
"Readable exactly while wait(0) has something to do.  Never read, write\n"
"or close it.  OSError(EOPNOTSUPP) with the poll(2) backend\n"
"(ipc_context_fd(3)).");

static PyObject *context_fileno(Context *self, PyObject *unused)
{
	int fd;

	(void)unused;
	if (ipcpy_check_usable(self) < 0)
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
	ms = ipcpy_as_int(value);
	if (ms == -1 && PyErr_Occurred())
		return -1;
	if (ipcpy_check_usable(self) < 0)
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
	{ "schedule", (PyCFunction)(void (*)(void))ipcpy_schedule,
	  METH_FASTCALL, ipcpy_schedule_doc },
	{ "write", (PyCFunction)ipcpy_write, METH_VARARGS, ipcpy_write_doc },
	{ "read", (PyCFunction)ipcpy_read, METH_O, ipcpy_read_doc },
	{ "wait", (PyCFunction)(void (*)(void))ipcpy_wait,
	  METH_FASTCALL | METH_KEYWORDS, ipcpy_wait_doc },
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
