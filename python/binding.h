/*
 * libipc for Python: what the module's files share.
 *
 * module.c   the module: constants, EventType, Event, errors
 * context.c  the Context type: its life, fds and properties
 * messages.c schedule(), write(), read(), wait()
 * aio.c      wait_async() and events(), on the running asyncio loop
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef LIBIPC_PYTHON_BINDING_H
#define LIBIPC_PYTHON_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <libipc.h>

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *obj)
{
	Py_INCREF(obj);
	return obj;
}
#endif

/* A libipc context and the buffer its events are read into. */
struct ipcpy_context {
	PyObject_HEAD
	void *ctx;		/* NULL once closed */
	char *buf;		/* received payloads land here first */
	size_t bufsize;
	size_t max_message;	/* ipc_context_max_message_size() */
	int timer;		/* ipc_context_timer(), 0 when off */
	int busy;		/* a call runs without the GIL */
	int async_waiting;	/* a wait_async() is pending */
};

/* module.c */
PyObject *ipcpy_event_new(char type, size_t index, int fd, int newfd,
			  const char *payload, size_t len);
PyObject *ipcpy_raise(int err, PyObject *what);
PyObject *ipcpy_raise_fd(int err, int fd);

/* The receive buffer: its first size, and the size it shrinks back to. */
#define BUFFER_SIZE_INITIAL (64 * 1024)
#define BUFFER_SIZE_KEPT (1024 * 1024)

/* context.c */
PyTypeObject *ipcpy_context_type_new(PyObject *module);
int ipcpy_as_int(PyObject *obj);
int ipcpy_check_usable(struct ipcpy_context *self);

/* messages.c: methods of Context, and their docstrings */
PyObject *ipcpy_schedule(struct ipcpy_context *self, PyObject *const *args,
			 Py_ssize_t nargs);
PyObject *ipcpy_write(struct ipcpy_context *self, PyObject *args);
PyObject *ipcpy_read(struct ipcpy_context *self, PyObject *arg);
PyObject *ipcpy_wait(struct ipcpy_context *self, PyObject *const *args,
		     Py_ssize_t nargs, PyObject *kwnames);
extern const char ipcpy_schedule_doc[], ipcpy_write_doc[], ipcpy_read_doc[],
	ipcpy_wait_doc[];

/* aio.c: adds wait_async() and events() to the Context type. */
int ipcpy_aio_add(PyTypeObject *context_type);

#endif /* LIBIPC_PYTHON_BINDING_H */
