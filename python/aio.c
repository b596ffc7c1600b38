/*
 * libipc for Python: wait_async() and events(), asyncio on the context fd.
 *
 * They are coroutines, so they are written in Python (the language
 * asyncio's own awaitables are written in), compiled once when the
 * module is imported and set on the Context type.  They call the C
 * methods only: fileno() and wait(0).  No thread, no polling: the
 * running loop watches ipc_context_fd() with add_reader() while a task
 * waits, and wait(0) (ipc_wait_event_timeout(..., 0)) takes the event.
 *
 * SPDX-License-Identifier: ISC
 */

#include "config.h"

#include "binding.h"

static const char aio_source[] =
"async def wait_async(self):\n"
"    \"\"\"wait_async() -> Event\n"
"\n"
"    Wait for the next event on the running asyncio loop and return it.\n"
"\n"
"    The loop watches the context fd (fileno()) with add_reader() while\n"
"    the task waits; wait(0) takes the event.  One task at a time may\n"
"    wait on a context (RuntimeError otherwise).  Cancelling the task\n"
"    loses no event.  Needs the epoll backend (OSError(EOPNOTSUPP)\n"
"    with poll(2)).\n"
"    \"\"\"\n"
"    event = self.wait(0)\n"
"    if event is not None:\n"
"        return event\n"
"    if self._async_waiting:\n"
"        raise RuntimeError('another task waits on this libipc.Context')\n"
"    import asyncio\n"
"    loop = asyncio.get_running_loop()\n"
"    fd = self.fileno()\n"
"    self._async_waiting = 1\n"
"    try:\n"
"        while True:\n"
"            ready = loop.create_future()\n"
"            loop.add_reader(fd, _wake, ready)\n"
"            try:\n"
"                await ready\n"
"            finally:\n"
"                loop.remove_reader(fd)\n"
"            event = self.wait(0)\n"
"            if event is not None:\n"
"                return event\n"
"    finally:\n"
"        self._async_waiting = 0\n"
"\n"
"def _wake(ready):\n"
"    if not ready.done():\n"
"        ready.set_result(None)\n"
"\n"
"async def events(self):\n"
"    \"\"\"events() -> async iterator of Event\n"
"\n"
"    'async for event in ctx.events():' each event, for ever (until the\n"
"    loop is left or wait() raises).  Built on wait_async().\n"
"    \"\"\"\n"
"    while True:\n"
"        yield await self.wait_async()\n";

int ipcpy_aio_add(PyTypeObject *context_type)
{
	static const char *const names[] = { "wait_async", "events" };
	PyObject *globals, *code, *result, *name;
	size_t i;
	int ret = -1;

	globals = PyDict_New();
	if (!globals)
		return -1;
	name = PyUnicode_FromString("libipc");
	if (!name || PyDict_SetItemString(globals, "__builtins__",
					  PyEval_GetBuiltins()) < 0 ||
	    PyDict_SetItemString(globals, "__name__", name) < 0) {
		Py_XDECREF(name);
		goto out;
	}
	Py_DECREF(name);
	code = Py_CompileString(aio_source, "<libipc aio>", Py_file_input);
	if (!code)
		goto out;
	result = PyEval_EvalCode(code, globals, globals);
	Py_DECREF(code);
	if (!result)
		goto out;
	Py_DECREF(result);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		PyObject *func = PyDict_GetItemString(globals, names[i]);

		if (!func || PyObject_SetAttrString((PyObject *)context_type,
						    names[i], func) < 0)
			goto out;
		name = PyUnicode_FromFormat("Context.%s", names[i]);
		if (!name)
			goto out;
		if (PyObject_SetAttrString(func, "__qualname__", name) < 0) {
			Py_DECREF(name);
			goto out;
		}
		Py_DECREF(name);
	}
	ret = 0;
out:
	Py_DECREF(globals);
	return ret;
}
