// Melody Box's page: the box live (a piano roll that scrolls as it plays, the state word, the note), every declared
// control as a slider or a selector (from GET /api/controls), the buttons, the models and the captures.
// No build step and nothing from the internet: this file, index.html and style.css are all there is.
"use strict";

const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const BLACK = new Set([1, 3, 6, 8, 10]);
const COLOURS = { white: "#ffffff", blackKey: "#eef0f5", beat: "#d7d7d7", bar: "#5a5a5a", octave: "#aaaab9",
  note: "#285ac8", edge: "#0f286e", ink: "#282828" };
const TOKEN_KEY = "melodybox-token";
const SEND_EVERY_MS = 80; // a dragged slider sends at most this often
const HELD_MS = 1500; // a control just touched is not moved by the box's reports for this long

const page = {
  token: localStorage.getItem(TOKEN_KEY) || "",
  controls: new Map(), // name -> {spec, input, output, touched, timer}
  notes: [], // {pitch, start, end} in steps; end null while sounding
  last: null, // the last step event
  lastAt: 0, // performance.now() when it came
  barSteps: 16,
};

function noteName(pitch) {
  return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
}

function say(text, error = false) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.classList.toggle("error", error);
}

// --- the API ---------------------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (page.token) headers.Authorization = "Bearer " + page.token;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const reply = await fetch(path, { method, headers, body: payload });
  const text = await reply.text();
  let data = null;
  try { data = JSON.parse(text); } catch (error) { data = null; }
  if (reply.status === 401) document.getElementById("token-form").hidden = false;
  if (!reply.ok) throw new Error((data && data.error) || reply.status + " " + reply.statusText);
  return data;
}

function takeTokenFromAddress() {
  // An address such as http://melodybox.local:8080/#token=... carries the token; it is kept here, not in the URL.
  const match = /^#token=(.+)$/.exec(location.hash);
  if (match) {
    page.token = decodeURIComponent(match[1]);
    localStorage.setItem(TOKEN_KEY, page.token);
    history.replaceState(null, "", location.pathname);
  }
  if (!page.token) document.getElementById("token-form").hidden = false;
}

// --- controls ---------------------------------------------------------------------------------------------------

function shown(spec, value) {
  if (typeof value === "number" && spec.kind !== "choice" && spec.step !== 1) return value.toFixed(2);
  if (spec.name === "scale_root") return NAMES[value] || String(value);
  return String(value);
}

function nearestIndex(values, value) {
  let best = 0;
  values.forEach((candidate, index) => {
    if (Math.abs(candidate - value) < Math.abs(values[best] - value)) best = index;
  });
  return best;
}

function valueOf(control) {
  const { spec, input } = control;
  if (spec.kind === "table") return spec.values[Number(input.value)];
  if (spec.kind === "range") return Number(input.value);
  const option = spec.options[input.selectedIndex];
  return option;
}

function show(control, value) {
  const { spec, input, output } = control;
  if (spec.kind === "table") input.value = String(nearestIndex(spec.values, value));
  else if (spec.kind === "range") input.value = String(value);
  else input.selectedIndex = Math.max(0, spec.options.indexOf(value));
  output.textContent = shown(spec, value);
}

function send(control) {
  clearTimeout(control.timer);
  control.timer = setTimeout(() => {
    const value = valueOf(control);
    api("POST", "/api/controls", { [control.spec.name]: value })
      .then(() => say(control.spec.name.replace(/_/g, " ") + " " + shown(control.spec, value)))
      .catch((error) => say(error.message, true));
  }, SEND_EVERY_MS);
}

function buildControl(spec) {
  const box = document.createElement("div");
  box.className = "control";
  box.title = spec.help;
  const label = document.createElement("label");
  const title = document.createElement("span");
  title.textContent = spec.name.replace(/_/g, " ");
  const output = document.createElement("output");
  label.append(title, output);
  let input;
  if (spec.kind === "choice") {
    input = document.createElement("select");
    for (const option of spec.options) {
      const element = document.createElement("option");
      element.textContent = shown(spec, option);
      input.append(element);
    }
  } else {
    input = document.createElement("input");
    input.type = "range";
    if (spec.kind === "table") {
      Object.assign(input, { min: 0, max: spec.values.length - 1, step: 1 });
    } else {
      Object.assign(input, { min: spec.min, max: spec.max, step: spec.step });
    }
  }
  input.id = "control-" + spec.name;
  input.name = spec.name;
  input.setAttribute("aria-label", spec.name.replace(/_/g, " "));
  label.htmlFor = input.id;
  const unit = document.createElement("small");
  unit.textContent = spec.unit;
  box.append(label, input, unit);
  const control = { spec, input, output, touched: 0, timer: 0 };
  input.addEventListener("input", () => {
    control.touched = performance.now();
    output.textContent = shown(spec, valueOf(control));
    send(control);
  });
  show(control, spec.default);
  page.controls.set(spec.name, control);
  return box;
}

async function loadControls() {
  const declaration = await api("GET", "/api/controls");
  const holder = document.getElementById("controls");
  holder.replaceChildren(...declaration.controls.map(buildControl));
}

// --- the live box -----------------------------------------------------------------------------------------------

function onStep(event) {
  const step = JSON.parse(event.data);
  const previous = page.last;
  if (previous && step.step < previous.step) page.notes = []; // a new timeline (a new Start, a song position)
  page.last = step;
  page.lastAt = performance.now();
  page.barSteps = step.bar_steps;
  const sounding = page.notes.length ? page.notes[page.notes.length - 1] : null;
  const open = sounding && sounding.end === null ? sounding : null;
  if (step.token !== null && step.token < 128) {
    if (open) open.end = step.step;
    page.notes.push({ pitch: step.token, start: step.step, end: null });
  } else if (open && (step.token === 128 || step.note === null)) {
    open.end = step.step;
  }
  while (page.notes.length && page.notes[0].end !== null && page.notes[0].end < step.step - 512) page.notes.shift();
  showState(step);
}

function showState(step) {
  const state = document.getElementById("state");
  state.textContent = step.state;
  state.className = "state " + step.state;
  document.getElementById("note").textContent = step.note_name || "-";
  document.getElementById("where").textContent =
    "step " + step.step + " · " + Math.round(step.bpm) + " bpm · " + step.model;
  document.getElementById("pause").textContent = step.paused ? "Resume" : "Pause";
  const now = performance.now();
  for (const [name, value] of Object.entries(step.controls)) {
    const control = page.controls.get(name);
    if (control && now - control.touched > HELD_MS && document.activeElement !== control.input) show(control, value);
  }
}

function follow() {
  const events = new EventSource("/api/events");
  events.addEventListener("step", onStep);
  events.addEventListener("error", () => {
    const state = document.getElementById("state");
    state.textContent = "offline";
    state.className = "state offline";
  });
}

// --- the piano roll ---------------------------------------------------------------------------------------------

function drawRoll() {
  const canvas = document.getElementById("roll");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.fillStyle = COLOURS.white;
  g.fillRect(0, 0, width, height);
  const left = 34;
  const top = 18;
  const stepWidth = width < 600 ? 8 : 12;
  const visible = Math.max(8, Math.floor((width - left) / stepWidth));
  const last = page.last;
  if (last === null) {
    requestAnimationFrame(drawRoll);
    return;
  }
  // The roll moves smoothly between the box's steps: "now" runs on by the clock, at most one step ahead.
  const stepMs = last.bpm > 0 ? 15000 / last.bpm : 125;
  const ahead = last.running && !last.paused ? Math.min(1, (performance.now() - page.lastAt) / stepMs) : 0;
  const now = last.step + 1 + ahead;
  const first = now - visible;
  const shownNotes = page.notes.filter((note) => (note.end === null ? now : note.end) > first);
  let low = 60;
  let high = 72;
  if (shownNotes.length) {
    low = Math.min(...shownNotes.map((note) => note.pitch)) - 2;
    high = Math.max(...shownNotes.map((note) => note.pitch)) + 2;
    const missing = 12 - (high - low);
    if (missing > 0) { low -= Math.floor(missing / 2); high += Math.ceil(missing / 2); }
  }
  const rows = high - low + 1;
  const rowHeight = (height - top) / rows;
  const x = (step) => left + (step - first) * stepWidth;
  const y = (pitch) => top + (high - pitch) * rowHeight;
  for (let pitch = low; pitch <= high; pitch += 1) { // black keys as light bands, a line below each C
    if (BLACK.has(pitch % 12)) { g.fillStyle = COLOURS.blackKey; g.fillRect(left, y(pitch), width - left, rowHeight); }
    if (pitch % 12 === 0) { g.fillStyle = COLOURS.octave; g.fillRect(left, y(pitch) + rowHeight - 1, width - left, 1); }
  }
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  for (let step = Math.floor(first); step <= now; step += 1) { // beats thin and grey, bars dark and numbered
    if (step % 4 !== 0 || x(step) < left) continue;
    const bar = step % page.barSteps === 0;
    g.fillStyle = bar ? COLOURS.bar : COLOURS.beat;
    g.fillRect(Math.round(x(step)), top, 1, height - top);
    if (bar) { g.fillStyle = COLOURS.ink; g.fillText(String(step / page.barSteps + 1), x(step) + 3, top / 2); }
  }
  for (const note of shownNotes) {
    const start = Math.max(x(note.start), left);
    const end = x(note.end === null ? now : note.end);
    g.fillStyle = COLOURS.note;
    g.fillRect(start, y(note.pitch) + 1, Math.max(end - start - 1, 2), Math.max(rowHeight - 2, 2));
    g.strokeStyle = COLOURS.edge;
    g.strokeRect(start + 0.5, y(note.pitch) + 1.5, Math.max(end - start - 2, 1), Math.max(rowHeight - 3, 1));
  }
  g.fillStyle = COLOURS.white;
  g.fillRect(0, 0, left, height);
  g.fillStyle = COLOURS.ink;
  for (let pitch = low; pitch <= high; pitch += 1) { // note names on the left: every C, E and G, or the Cs alone
    const named = rowHeight >= 9 ? [0, 4, 7].includes(pitch % 12) : pitch % 12 === 0;
    if (named) g.fillText(noteName(pitch), 2, y(pitch) + rowHeight / 2);
  }
  canvas.dataset.step = String(last.step);
  canvas.dataset.notes = String(shownNotes.length);
  requestAnimationFrame(drawRoll);
}

// --- buttons, models, captures ----------------------------------------------------------------------------------

async function press(name) {
  try {
    await api("POST", "/api/" + name);
    say(name === "pause" ? "pause pressed" : name + " pressed");
  } catch (error) {
    say(error.message, true);
  }
}

async function capture() {
  say("capturing at the next bar line…");
  try {
    const reply = await api("POST", "/api/capture");
    say("captured " + reply.name);
    await loadCaptures();
  } catch (error) {
    say(error.message, true);
  }
}

async function loadCaptures() {
  const reply = await api("GET", "/api/captures");
  const list = document.getElementById("captures");
  list.replaceChildren(...reply.captures.map((capture) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "/api/captures/" + encodeURIComponent(capture.name);
    link.download = capture.name;
    link.textContent = capture.name;
    item.append(link, " (" + Math.round(capture.bytes / 100) / 10 + " kB)");
    return item;
  }));
  if (!reply.captures.length) list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "none yet" }));
}

async function loadModels() {
  const reply = await api("GET", "/api/models");
  const select = document.getElementById("models");
  select.replaceChildren(...reply.models.map((model) => {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = model.name + " (" + model.precision + ", " + (model.bytes / 1e6).toFixed(1) + " MB)";
    option.selected = model.name === reply.current;
    return option;
  }));
}

async function switchModel() {
  const name = document.getElementById("models").value;
  say("loading " + name + "…");
  try {
    const reply = await api("POST", "/api/model", { name });
    say(reply.switched ? "playing " + name : reply.reason || name + " plays already");
  } catch (error) {
    say(error.message, true);
  }
  await loadModels();
}

async function upload(event) {
  event.preventDefault();
  const files = [...document.getElementById("upload-files").files];
  const tflite = files.find((file) => file.name.endsWith(".tflite"));
  const contract = files.find((file) => file.name.endsWith(".json"));
  if (!tflite || !contract) { say("choose the .tflite and its .json together", true); return; }
  const form = new FormData();
  form.append("tflite", tflite, tflite.name);
  form.append("json", contract, contract.name);
  say("checking " + tflite.name + "…");
  try {
    const reply = await api("POST", "/api/models", form);
    say("installed " + reply.model);
    await loadModels();
  } catch (error) {
    say(error.message, true);
  }
}

function start() {
  takeTokenFromAddress();
  document.getElementById("reset").addEventListener("click", () => press("reset"));
  document.getElementById("pause").addEventListener("click", () => press("pause"));
  document.getElementById("capture").addEventListener("click", capture);
  document.getElementById("switch").addEventListener("click", switchModel);
  document.getElementById("upload").addEventListener("submit", upload);
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    page.token = document.getElementById("token").value.trim();
    localStorage.setItem(TOKEN_KEY, page.token);
    document.getElementById("token-form").hidden = true;
    say("token kept in this browser");
  });
  loadControls().then(follow).catch((error) => say(error.message, true));
  loadModels().catch((error) => say(error.message, true));
  loadCaptures().catch((error) => say(error.message, true));
  setInterval(() => loadCaptures().catch(() => {}), 10000);
  requestAnimationFrame(drawRoll);
}

start();
