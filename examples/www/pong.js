// SPDX-License-Identifier: ISC
// Echo through pongd: ws://HOST/pong is served by ipc-wsd --allow pong.
// With ?selftest=N the page sends N messages itself and writes the
// result into #status (the headless browser test reads it).
"use strict";

const statusEl = document.getElementById("status");
const logEl = document.getElementById("log");
const ws = new WebSocket("ws://" + location.host + "/pong");
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const params = new URLSearchParams(location.search);
const selftest = parseInt(params.get("selftest") || "0", 10);
const sent = [];
let echoed = 0;

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
	if (selftest && text === sent[echoed] && ++echoed === selftest)
		statusEl.textContent = "selftest ok " + echoed;
	else if (selftest && text !== sent[echoed])
		statusEl.textContent = "selftest failed at " + echoed;
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
