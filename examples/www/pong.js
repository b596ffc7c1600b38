// SPDX-License-Identifier: ISC
// Echo through pongd: ws://HOST/pong is served by ipc-wsd --allow pong.
// With ?selftest=N the page sends N messages itself and writes the
// result into #status (the headless browser test reads it); ?server=
// HOST:PORT talks to another ipc-wsd than the one that served the page.
"use strict";

const params = new URLSearchParams(location.search);
const server = params.get("server") || location.host;
const statusEl = document.getElementById("status");
const logEl = document.getElementById("log");
const ws = new WebSocket("ws://" + server + "/pong");
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const selftest = parseInt(params.get("selftest") || "0", 10);
const sent = [];
let echoed = 0;
let failed = false;

ws.binaryType = "arraybuffer";

function show(line) {
	const li = document.createElement("li");

	li.textContent = line;
	logEl.appendChild(li);
}

ws.onopen = () => {
	statusEl.textContent = "connected";
	for (let i = 0; i < selftest; i++) {
		sent.push("echo " + i + " \u00e9\u20ac");
		ws.send(encoder.encode(sent[i]));
	}
};

ws.onmessage = (ev) => {
	const text = typeof ev.data === "string" ? ev.data :
		decoder.decode(ev.data);

	show(text);
	if (!selftest || failed)
		return;
	if (text !== sent[echoed]) {
		failed = true;
		statusEl.textContent = "selftest failed at " + echoed;
	} else if (++echoed === selftest) {
		statusEl.textContent = "selftest ok " + echoed;
	} else {
		statusEl.textContent = "selftest running " + echoed;
	}
};

ws.onclose = (ev) => {
	if (!statusEl.textContent.startsWith("selftest"))
		statusEl.textContent = "closed (" + ev.code + ")";
};

document.getElementById("form").onsubmit = (ev) => {
	const input = document.getElementById("text");

	ev.preventDefault();
	if (ws.readyState === WebSocket.OPEN && input.value !== "")
		ws.send(encoder.encode(input.value));
	input.value = "";
};
