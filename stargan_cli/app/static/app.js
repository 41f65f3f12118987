// The page of `stargan app`: plain JavaScript over the JSON API in stargan_cli/app/server.py.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,      // the model's description (/api/models)
  photo: null,     // the upload (/api/upload)
  face: null,      // chosen face number, null: the whole photo as a face crop
  scores: null,    // estimated probabilities
  source: {},      // the photo's own attributes, 0/1, editable
  target: {},      // what the controls ask for, 0/1
  seq: 0,          // only the newest translation is shown
  running: false,  // a translation request is out
  again: false,    // settings changed meanwhile: translate again when it is back
  timer: null,
};

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, body, contentType) {
  const options = body === undefined ? {} : {
    method: "POST",
    body: contentType ? body : JSON.stringify(body),
    headers: { "Content-Type": contentType || "application/json" },
  };
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server cannot be reached: is `stargan app` still running?");
  }
  let data = null;
  try { data = await response.json(); } catch (err) { /* not JSON */ }
  if (!response.ok) throw new Error((data && data.error) || `the server answered ${response.status}`);
  return data;
}

// ---- models ---------------------------------------------------------------------------

async function loadModel(name) {
  const data = await api("api/models" + (name ? "?name=" + encodeURIComponent(name) : ""));
  const select = $("model");
  if (!select.options.length) {
    for (const model of data.models) select.add(new Option(model, model));
  }
  select.value = data.model.name;
  select.title = data.model.description + " on " + data.model.device;
  state.info = data.model;
  state.maxBytes = data.max_upload_bytes;
}

// ---- photo and faces ------------------------------------------------------------------

async function uploadBlob(blob, name) {
  showMessage("");
  if (state.maxBytes && blob.size > state.maxBytes) {
    const mb = (n) => `${+(n / 2 ** 20).toPrecision(3)} MB`;
    showMessage(`The file is ${mb(blob.size)}; photos up to ${mb(state.maxBytes)} are accepted.`);
    return;
  }
  setBusy(true);
  try {
    const photo = await api("api/upload?name=" + encodeURIComponent(name || "photo"), blob,
      blob.type || "application/octet-stream");
    showPhoto(photo);  // goes on with the estimate, which clears the busy sign
  } catch (err) {
    showMessage(err.message);
    setBusy(false);
  }
}

function showPhoto(photo) {
  state.photo = photo;
  state.face = photo.face;
  const input = $("input");
  input.src = photo.url;
  $("input-empty").hidden = true;
  $("result").removeAttribute("src");
  showMask(null);
  $("download").hidden = true;
  $("strip-figure").hidden = true;
  drawFaces();
  estimate();
}

function drawFaces() {
  const photo = state.photo;
  const boxes = $("boxes");
  const chips = $("faces");
  boxes.replaceChildren();
  chips.replaceChildren();
  $("faces-group").hidden = false;
  if (!photo.faces.length) {
    chips.textContent = "No face found: the whole photo is taken as a face crop.";
    return;
  }
  for (const face of photo.faces) {
    const [x, y, w, h] = face.box;
    const box = document.createElement("div");
    box.className = "face-box" + (face.number === state.face ? " chosen" : "");
    Object.assign(box.style, {
      left: (100 * x / photo.width) + "%", top: (100 * y / photo.height) + "%",
      width: (100 * w / photo.width) + "%", height: (100 * h / photo.height) + "%",
    });
    box.innerHTML = `<span>${face.number}</span>`;
    box.title = `Face ${face.number}`;
    box.addEventListener("click", () => chooseFace(face.number));
    boxes.append(box);
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip" + (face.number === state.face ? " on" : "");
    chip.setAttribute("role", "radio");
    chip.setAttribute("aria-checked", face.number === state.face);
    chip.textContent = `Face ${face.number}`;
    chip.addEventListener("click", () => chooseFace(face.number));
    chips.append(chip);
  }
}

function chooseFace(number) {
  if (number === state.face) return;
  state.face = number;
  drawFaces();
  estimate();
}

// ---- attributes -----------------------------------------------------------------------

async function estimate() {
  if (!state.photo) return;
  setBusy(true);
  try {
    const data = await api("api/estimate", { image: state.photo.image, model: state.info.name, face: state.face });
    state.scores = data.scores;
    state.source = { ...data.label };
    state.target = { ...data.label };
    $("source-note").textContent = data.estimated ? "(estimated; click to correct)" : "(set them yourself)";
    if (data.message) showMessage(data.message);
    drawControls();
    translate();
  } catch (err) {
    showMessage(err.message);
    setBusy(false);
  }
}

function exclusiveGroups() {
  return [state.info.hair, state.info.domains].filter((g) => g.length);
}

function setExclusive(values, group, name) {
  for (const other of group) values[other] = other === name ? 1 : 0;
}

function chip(type, text, checked, data, onChange) {
  // A labelled checkbox or radio button drawn as a chip; data: its data-* attributes.
  const label = document.createElement("label");
  label.className = "chip" + (checked ? " on" : "");
  const input = document.createElement("input");
  input.type = type;
  input.checked = checked;
  Object.assign(input.dataset, data);
  input.addEventListener("change", () => onChange(input));
  label.append(input, document.createTextNode(text));
  return label;
}

function drawControls() {
  const info = state.info;
  const source = $("source");
  source.replaceChildren();
  for (const name of info.attributes) {
    const item = chip("checkbox", pretty(name), !!state.source[name], { source: name }, (box) => {
      const group = exclusiveGroups().find((g) => g.includes(name));
      if (group && box.checked) setExclusive(state.source, group, name);
      else state.source[name] = box.checked ? 1 : 0;
      drawControls();
      translate();
    });
    if (state.scores) {
      const p = document.createElement("span");
      p.className = "p";
      p.textContent = state.scores[name].toFixed(2);
      item.append(p);
    }
    source.append(item);
  }
  const targets = $("targets");
  targets.replaceChildren();
  if (info.hair.length) targets.append(choice("Hair colour", "hair", info.hair, true));
  if (info.domains.length) targets.append(choice("Domain", "domain", info.domains, false));
  if (info.toggles.length) {
    const chips = group("Attributes", targets);
    for (const name of info.toggles) {
      chips.append(chip("checkbox", pretty(name), !!state.target[name], { target: name }, (box) => {
        state.target[name] = box.checked ? 1 : 0;
        box.parentElement.classList.toggle("on", box.checked);
        translate();
      }));
    }
  }
  $("source-group").hidden = false;
  $("target-group").hidden = false;
}

function group(title, parent) {
  // A titled row of chips in parent; returns the chips' container.
  const row = document.createElement("div");
  row.className = "control";
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = title;
  const chips = document.createElement("div");
  chips.className = "chips";
  row.append(label, chips);
  parent.append(row);
  return chips;
}

function choice(title, key, names, allowNone) {
  // One exclusive choice among names (allowNone: also "other", none of them on).
  const holder = document.createDocumentFragment();
  const chips = group(title, holder);
  chips.setAttribute("role", "radiogroup");
  const current = names.find((n) => state.target[n]) || null;
  for (const name of allowNone ? [null, ...names] : names) {
    const item = chip("radio", name ? pretty(name) : "other", name === current,
      { target: name || key + ":none" }, (radio) => {
        setExclusive(state.target, names, name);
        for (const other of chips.children) other.classList.toggle("on", other.firstChild === radio);
        translate();
      });
    item.firstChild.name = key;
    item.firstChild.value = name || "none";
    chips.append(item);
  }
  return holder;
}

function pretty(name) {
  return name.replace(/_/g, " ");
}

function changes() {
  const info = state.info;
  const domain = (values) => info.domains.find((d) => values[d]);
  if (info.domains.length && domain(state.target) !== domain(state.source) && domain(state.target)) {
    return { [domain(state.target)]: 1 };  // exclusive domains go alone
  }
  const to = {};
  for (const name of [...info.hair, ...info.toggles]) {
    if ((state.target[name] || 0) !== (state.source[name] || 0)) to[name] = state.target[name] || 0;
  }
  return to;
}

// ---- translation ----------------------------------------------------------------------

function setBusy(on) {
  $("busy").hidden = !on;
}

function translate() {
  clearTimeout(state.timer);
  state.timer = setTimeout(runTranslate, 120);
}

async function runTranslate() {
  if (!state.photo) return;
  if (state.running) {  // one request at a time: the newest settings run when it is back
    state.again = true;
    return;
  }
  state.running = true;
  state.again = false;
  const seq = ++state.seq;
  const image = state.photo.image;
  setBusy(true);
  try {
    const data = await api("api/translate", {
      image, model: state.info.name, face: state.face,
      source: state.source, to: changes(), strength: Number($("strength").value) / 100,
    });
    if (seq !== state.seq || image !== (state.photo && state.photo.image)) return;  // a newer photo
    showMessage("");
    $("result").src = data.url;
    showMask(data.mask_url);
    const download = $("download");
    download.href = data.download_url || data.url;  // full size: pasted into the original when asked
    download.download = data.download;
    download.hidden = false;
    showLabel(data);
  } catch (err) {
    if (seq === state.seq) showMessage(err.message);
  } finally {
    state.running = false;
    if (state.again) runTranslate();
    else if (seq === state.seq) setBusy(false);
  }
}

// The model's mask over the result (models with a mask only): red where the picture changed.
function showMask(url) {
  const overlay = $("result-mask");
  $("mask-toggle").hidden = !url;
  if (url) overlay.src = url;
  else overlay.removeAttribute("src");
  overlay.hidden = !url || !$("show-mask").checked;
}

function showLabel(data) {
  const moved = Object.keys(data.label).filter((a) => data.start[a] !== data.target[a]);
  $("label").textContent = moved.length
    ? "Label: " + moved.map((a) => `${pretty(a)} ${data.start[a].toFixed(0)}→${data.label[a].toFixed(2)}`).join(", ")
    : "No change asked: the model redraws the face as it is.";
}

async function showStrip() {
  if (!state.photo) return;
  setBusy(true);
  try {
    const data = await api("api/strip", {
      image: state.photo.image, model: state.info.name, face: state.face, source: state.source,
    });
    $("strip").src = data.url;
    $("strip-download").href = data.url;
    $("strip-download").download = data.download;
    $("strip-caption").firstChild.textContent = "Input, " + data.targets.map(pretty).join(", ") + " ";
    $("strip-figure").hidden = false;
    showMessage("");
  } catch (err) {
    showMessage(err.message);
  } finally {
    setBusy(false);
  }
}

// ---- camera ---------------------------------------------------------------------------

let stream = null;

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showMessage("This browser gives no camera here (cameras need the page on localhost or https).");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
  } catch (err) {
    showMessage("No camera: " + err.message);
    return;
  }
  $("video").srcObject = stream;
  $("camera").showModal();
}

function closeCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  $("camera").close();
}

function snap() {
  const video = $("video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  closeCamera();
  canvas.toBlob((blob) => blob && uploadBlob(blob, "camera"), "image/jpeg", 0.92);
}

// ---- wiring ---------------------------------------------------------------------------

function wire() {
  $("file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) uploadBlob(file, file.name);
    e.target.value = "";
  });
  $("example").addEventListener("click", async () => {
    setBusy(true);
    try { showPhoto(await api("api/example", {})); } catch (err) { showMessage(err.message); setBusy(false); }
  });
  $("model").addEventListener("change", async (e) => {
    try {
      await loadModel(e.target.value);
      showMessage("");
      if (state.photo) estimate();
    } catch (err) {
      showMessage(err.message);
    }
  });
  $("strength").addEventListener("input", (e) => {
    $("strength-value").textContent = e.target.value + "%";
    translate();
  });
  $("strip-button").addEventListener("click", showStrip);
  $("show-mask").addEventListener("change", () => {
    $("result-mask").hidden = !$("show-mask").checked || !$("result-mask").getAttribute("src");
  });
  $("camera-open").addEventListener("click", openCamera);
  $("camera-close").addEventListener("click", closeCamera);
  $("snap").addEventListener("click", snap);
  document.body.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
  document.body.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.body.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    const file = e.dataTransfer.files[0];
    if (file) uploadBlob(file, file.name);
  });
}

wire();
loadModel().catch((err) => showMessage(err.message));
