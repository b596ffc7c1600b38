/*
 * libipc for Python: the module, its constants, EventType, Event and the
 * errors.
 *
 * SPDX-License-Identifier: ISC
 */

#include "config.h"

#include <errno.h>
#include <string.h>

#include "binding.h"

PyDoc_STRVAR(module_doc,
"libipc - inter-process communication over Unix sockets\n"
"\n"
"SYNOPSIS\n"
"    import libipc\n"
"\n"
"    with libipc.Context() as ctx:           # a service\n"
"        ctx.service('pong')\n"
"        while True:\n"
"            event = ctx.wait()\n"
"            if event.type == libipc.EventType.MESSAGE_RX:\n"
"                ctx.schedule(event.fd, event.message)\n"
"\n"
"    with libipc.Context() as ctx:           # a client\n"
"        fd = ctx.connect('pong')\n"
"        ctx.write(fd, b'hello')\n"
"        print(ctx.read(fd))\n"
"\n"
"DESCRIPTION\n"
"    The Python binding of libipc, the C library that moves messages\n"
"    between local processes over Unix stream sockets.  A program holds a\n"
"    Context, creates named services in the run directory or connects to\n"
"    those of other programs (written in C, Python or anything that\n"
"    speaks the wire format), and loops over Context.wait(), which\n"
"    returns one Event at a time.  Messages are bytes; one message sent\n"
"    is one message received, whole, in order.\n"
"\n"
"    Wire format: a 4-byte big-endian payload length, then the payload.\n"
"    Run directory: $IPC_RUNDIR when set, else /tmp/.libipc-run; the\n"
"    service NAME listens on RUNDIR/NAME.  See libipc(7).\n"
"\n"
"EVENTS\n"
"    Context.wait() returns an Event with the fields type (EventType),\n"
"    fd, index, newfd and message (bytes): CONNECTION (newfd is the new\n"
"    client), DISCONNECTION (the fd is closed already), MESSAGE_RX (a\n"
"    whole message), MESSAGE_TX (a scheduled message was written),\n"
"    TIMER, EXTERNAL (an fd of add_external() is readable), SWITCH_RX and\n"
"    SWITCH_TX (a switch forwarded a message).  See ipc_wait_event(3).\n"
"\n"
"ERRORS\n"
"    The library's negative errno values are raised as OSError, whose\n"
"    subclass follows the errno: FileNotFoundError (no such service),\n"
"    ConnectionRefusedError, PermissionError, BlockingIOError,\n"
"    BrokenPipeError, ChildProcessError (a context used in a forked\n"
"    child), ...  The message names the service or the fd.  A closed\n"
"    context raises ValueError; a context used by two threads at once\n"
"    raises RuntimeError.\n"
"\n"
"THREADS AND ASYNCIO\n"
"    The GIL is released while a call waits, so two contexts in two\n"
"    threads run in parallel.  A context itself belongs to one thread at\n"
"    a time.  In an asyncio program, 'await ctx.wait_async()' or\n"
"    'async for event in ctx.events()' wait on the running loop through\n"
"    loop.add_reader(ctx.fileno()): no thread, no polling (the epoll\n"
"    backend; see ipc_context_fd(3)).\n"
"\n"
"SEE ALSO\n"
"    libipc(7), ipc_wait_event(3), the examples pong.py, pongd.py and\n"
"    pongd-asyncio.py.");

/* The nine EventType members, by value, for the events' type field. */
static PyObject *event_types[IPC_EVENT_SWITCH_TX + 1];
static PyObject *empty_bytes;

static const char *const event_type_names[] = {
	"ERROR", "CONNECTION", "DISCONNECTION", "MESSAGE_RX", "MESSAGE_TX",
	"TIMER", "EXTERNAL", "SWITCH_RX", "SWITCH_TX",
};

static PyStructSequence_Field event_fields[] = {
	{ "type", "the EventType" },
	{ "fd", "the fd the event occurred on, -1 for TIMER" },
	{ "index", "the connection's index, -1 when none" },
	{ "newfd", "the new client's fd for CONNECTION, else -1" },
	{ "message", "the payload (MESSAGE_RX, the first bytes for "
		     "SWITCH_RX), else b''" },
	{ NULL, NULL },
};

static PyStructSequence_Desc event_desc = {
	.name = "libipc.Event",
	.doc = "One event of Context.wait(): type, fd, index, newfd, message.\n"
	       "\n"
	       "A named tuple: event.type, event.fd, ... or unpacked as\n"
	       "type, fd, index, newfd, message = event.",
	.fields = event_fields,
	.n_in_sequence = 5,
};

static PyTypeObject event_type;

PyObject *ipcpy_event_new(char type, size_t index, int fd, int newfd,
			  const char *payload, size_t len)
{
	PyObject *event, *message, *idx;

	if ((unsigned char)type > IPC_EVENT_SWITCH_TX) {
		PyErr_Format(PyExc_SystemError,
			     "libipc returned an unknown event type %d", type);
		return NULL;
	}
	if (len == 0) {
		message = Py_NewRef(empty_bytes);
	} else {
		message = PyBytes_FromStringAndSize(payload, (Py_ssize_t)len);
		if (!message)
			return NULL;
	}
	idx = index == (size_t)-1 ? PyLong_FromLong(-1) :
				    PyLong_FromSize_t(index);
	event = PyStructSequence_New(&event_type);
	if (!event || !idx) {
		Py_XDECREF(event);
		Py_XDECREF(idx);
		Py_DECREF(message);
		return NULL;
	}
	PyStructSequence_SET_ITEM(event, 0, Py_NewRef(event_types[(int)type]));
	PyStructSequence_SET_ITEM(event, 1, PyLong_FromLong(fd));
	PyStructSequence_SET_ITEM(event, 2, idx);
	PyStructSequence_SET_ITEM(event, 3, PyLong_FromLong(newfd));
	PyStructSequence_SET_ITEM(event, 4, message);
	if (!PyStructSequence_GET_ITEM(event, 1) ||
	    !PyStructSequence_GET_ITEM(event, 3)) {
		Py_DECREF(event);
		return NULL;
	}
	return event;
}

/*
 * OSError(errno, strerror, what): OSError's constructor picks the
 * subclass from errno (FileNotFoundError for ENOENT, ...), and `what`
 * (the service name, or "fd N") is shown as the filename is.
 */
PyObject *ipcpy_raise(int err, PyObject *what)
{
	PyObject *exc;

	if (what)
		exc = PyObject_CallFunction(PyExc_OSError, "isO", err,
					    strerror(err), what);
	else
		exc = PyObject_CallFunction(PyExc_OSError, "is", err,
					    strerror(err));
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *ipcpy_raise_fd(int err, int fd)
{
	PyObject *what = PyUnicode_FromFormat("fd %d", fd);

	if (!what)
		return NULL;
	ipcpy_raise(err, what);
	Py_DECREF(what);
	return NULL;
}

/* EventType = enum.IntEnum('EventType', [(name, value), ...]) */
static PyObject *event_type_enum(void)
{
	PyObject *enum_module, *intenum, *members, *kwargs = NULL;
	PyObject *args = NULL, *doc = NULL, *cls = NULL;
	int i;

	enum_module = PyImport_ImportModule("enum");
	if (!enum_module)
		return NULL;
	intenum = PyObject_GetAttrString(enum_module, "IntEnum");
	Py_DECREF(enum_module);
	if (!intenum)
		return NULL;
	members = PyList_New(0);
	if (!members)
		goto out;
	for (i = 0; i <= IPC_EVENT_SWITCH_TX; i++) {
		PyObject *item = Py_BuildValue("(si)", event_type_names[i], i);

		if (!item || PyList_Append(members, item) < 0) {
			Py_XDECREF(item);
			goto out;
		}
		Py_DECREF(item);
	}
	args = Py_BuildValue("(sO)", "EventType", members);
	kwargs = Py_BuildValue("{ss}", "module", "libipc");
	doc = PyUnicode_FromString("The type of an Event: the values of "
				   "libipc's enum event_types.");
	if (!args || !kwargs || !doc)
		goto out;
	cls = PyObject_Call(intenum, args, kwargs);
	if (cls && PyObject_SetAttrString(cls, "__doc__", doc) < 0)
		Py_CLEAR(cls);
out:
	Py_XDECREF(doc);
	Py_XDECREF(args);
	Py_XDECREF(kwargs);
	Py_XDECREF(members);
	Py_DECREF(intenum);
	return cls;
}

static int add_constants(PyObject *module)
{
	if (PyModule_AddStringConstant(module, "__version__",
				       PACKAGE_VERSION) < 0 ||
	    PyModule_AddObject(module, "MAX_MESSAGE_SIZE_DEFAULT",
		PyLong_FromUnsignedLong(IPC_MAX_MESSAGE_SIZE_DEFAULT)) < 0 ||
	    PyModule_AddObject(module, "QUEUE_HIGH_WATER_DEFAULT",
		PyLong_FromUnsignedLong(IPC_QUEUE_HIGH_WATER_DEFAULT)) < 0 ||
	    PyModule_AddObject(module, "QUEUE_MAX_DEFAULT",
		PyLong_FromUnsignedLong(IPC_QUEUE_MAX_DEFAULT)) < 0 ||
	    PyModule_AddIntConstant(module, "LINGER_MS", IPC_LINGER_MS) < 0 ||
	    PyModule_AddStringConstant(module, "RUNDIR_DEFAULT",
				       IPC_RUNDIR_DEFAULT) < 0)
		return -1;
	return 0;
}

static int add_event_types(PyObject *module)
{
	PyObject *cls = event_type_enum();
	int i;

	if (!cls)
		return -1;
	for (i = 0; i <= IPC_EVENT_SWITCH_TX; i++) {
		event_types[i] = PyObject_CallFunction(cls, "i", i);
		if (!event_types[i]) {
			Py_DECREF(cls);
			return -1;
		}
	}
	if (PyModule_AddObject(module, "EventType", cls) < 0) {
		Py_DECREF(cls);
		return -1;
	}
	if (PyStructSequence_InitType2(&event_type, &event_desc) < 0)
		return -1;
	Py_INCREF(&event_type);
	if (PyModule_AddObject(module, "Event", (PyObject *)&event_type) < 0) {
		Py_DECREF(&event_type);
		return -1;
	}
	return 0;
}

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "libipc",
	.m_doc = module_doc,
	.m_size = -1,
};

PyMODINIT_FUNC PyInit_libipc(void);

PyMODINIT_FUNC PyInit_libipc(void)
{
	PyObject *module = PyModule_Create(&module_def);
	PyTypeObject *context_type;

	if (!module)
		return NULL;
	empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
	if (!empty_bytes || add_constants(module) < 0 ||
	    add_event_types(module) < 0)
		goto fail;
	context_type = ipcpy_context_type_new(module);
	if (!context_type)
		goto fail;
	if (ipcpy_aio_add(context_type) < 0 ||
	    PyModule_AddObject(module, "Context", (PyObject *)context_type) < 0) {
		Py_DECREF(context_type);
		goto fail;
	}
	return module;
fail:
	Py_DECREF(module);
	return NULL;
}
