// platemark web app: pick or take a photo, crop and rotate it, search, browse the results.
// Plain ES module, no build step; talks only to the /api endpoints.

import { zoomable } from "./zoom.js";

const $ = (selector) => document.querySelector(selector);
const state = { file: null, bitmap: null, rotate: 0, crop: null, lastSearch: null };

// ---- picking a photo: camera, file, drag and drop, paste -------------------------------------
for (const input of [$("#camera"), $("#file")]) {
  input.addEventListener("change", () => input.files[0] && usePhoto(input.files[0]));
}
const dropzone = $("#dropzone");
dropzone.addEventListener("keydown", (event) => {
  if (event.target === dropzone && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    $("#file").click();
  }
});
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  const file = [...event.dataTransfer.files].find((f) => f.type.startsWith("image/"));
  if (file) usePhoto(file);
});
document.addEventListener("paste", (event) => {
  const item = [...event.clipboardData.items].find((i) => i.type.startsWith("image/"));
  if (item) usePhoto(item.getAsFile());
});

async function usePhoto(file) {
  try {
    state.bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    forgetPhoto(); // Search must not search the previous photo again
    return showError("This file is not an image the browser can show. Choose another photo.");
  }
  Object.assign(state, { file, rotate: 0, crop: null });
  $("#editor").hidden = false;
  drawPreview();
  showStatus("Crop to the print if you like, then search.");
}

function forgetPhoto() {
  Object.assign(state, { file: null, bitmap: null, rotate: 0, crop: null, lastSearch: null });
  $("#editor").hidden = true;
  $("#results").hidden = true;
  $("#result-list").replaceChildren();
  history.replaceState(null, "", location.pathname + location.search);
}

// The photo as uploaded: upright (EXIF orientation applied by the browser) and at most
// UPLOAD_SIDE pixels long, the size the server searches at, so a 12 MP phone photo sends a few
// hundred kilobytes, not megabytes. Returns the file and the factor photo pixels were scaled by.
const UPLOAD_SIDE = 1600;

async function uploadablePhoto() {
  const { bitmap, file } = state;
  const scale = Math.min(1, UPLOAD_SIDE / Math.max(bitmap.width, bitmap.height));
  if (scale === 1 && file.type === "image/jpeg") return [file, 1];
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  return [blob, canvas.width / bitmap.width];
}

// ---- preview, rotation and crop ---------------------------------------------------------------
const canvas = $("#preview");
const rotatedSize = () => (state.rotate % 180 === 0
  ? [state.bitmap.width, state.bitmap.height] : [state.bitmap.height, state.bitmap.width]);

function drawPreview() {
  const [width, height] = rotatedSize();
  const scale = Math.min(1, 720 / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  ctx.save();
  ctx.translate(canvas.width / 2, canvas.height / 2);
  ctx.rotate((state.rotate * Math.PI) / 180);
  const [w, h] = [state.bitmap.width * scale, state.bitmap.height * scale];
  ctx.drawImage(state.bitmap, -w / 2, -h / 2, w, h);
  ctx.restore();
  if (state.crop) {
    const [x, y, cw, ch] = state.crop.map((v) => v * scale);
    ctx.fillStyle = "rgba(0,0,0,.45)";
    ctx.fillRect(0, 0, canvas.width, y);
    ctx.fillRect(0, y + ch, canvas.width, canvas.height - y - ch);
    ctx.fillRect(0, y, x, ch);
    ctx.fillRect(x + cw, y, canvas.width - x - cw, ch);
    ctx.strokeStyle = "#e0a526";
    ctx.lineWidth = 2;
    ctx.strokeRect(x, y, cw, ch);
  }
  $("#crop-info").textContent = state.crop
    ? `Crop: ${state.crop.map(Math.round).join(", ")} (x, y, width, height in photo pixels)`
    : "Drag across the photo to crop it to the print.";
}

function photoPoint(event) {
  const box = canvas.getBoundingClientRect();
  const [width, height] = rotatedSize();
  const x = Math.min(Math.max(event.clientX - box.left, 0), box.width);
  const y = Math.min(Math.max(event.clientY - box.top, 0), box.height);
  return [(x / box.width) * width, (y / box.height) * height];
}

let dragStart = null;
canvas.addEventListener("pointerdown", (event) => {
  dragStart = photoPoint(event);
  canvas.setPointerCapture(event.pointerId);
});
canvas.addEventListener("pointermove", (event) => {
  if (!dragStart) return;
  const [x, y] = photoPoint(event);
  state.crop = [Math.min(x, dragStart[0]), Math.min(y, dragStart[1]),
    Math.abs(x - dragStart[0]), Math.abs(y - dragStart[1])];
  drawPreview();
});
canvas.addEventListener("pointerup", () => {
  dragStart = null;
  if (state.crop && (state.crop[2] < 16 || state.crop[3] < 16)) state.crop = null;
  drawPreview();
});
// Keyboard and screen-reader users crop by typing the rectangle, in photo pixels.
$("#crop-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const [width, height] = rotatedSize();
  const f = Object.fromEntries([...new FormData(event.target)].map(([k, v]) => [k, Number(v)]));
  const w = Math.min(f.w, width - f.x);
  const h = Math.min(f.h, height - f.y);
  if (f.x < 0 || f.y < 0 || w < 16 || h < 16) return showError("That crop does not fit in the photo.");
  state.crop = [f.x, f.y, w, h];
  drawPreview();
  showStatus("Crop set.");
});
$("#rotate-left").addEventListener("click", () => turn(270));
$("#rotate-right").addEventListener("click", () => turn(90));
$("#clear-crop").addEventListener("click", () => { state.crop = null; drawPreview(); });

function turn(degrees) {
  state.rotate = (state.rotate + degrees) % 360;
  state.crop = null;
  drawPreview();
}

// ---- filters ----------------------------------------------------------------------------------
// The select filters: the search request's field, the /api/filters list of its values, the
// form's select, and what the status line calls it.
const SELECT_FILTERS = [
  { field: "collection", values: "collections", select: "#f-collection", words: "collection" },
  { field: "classification", values: "classification", select: "#f-classification", words: "type" },
  { field: "material_technique", values: "material_technique", select: "#f-technique", words: "technique" },
  { field: "institution", values: "institution", select: "#f-institution", words: "institution" },
];

// Adds a value to a select unless it is there (a shared search may set one before the list loads).
function addOption(select, value) {
  if (![...select.options].some((option) => option.value === value)) select.add(new Option(value, value));
}

async function loadFilters() {
  const values = await api("api/filters");
  for (const filter of SELECT_FILTERS) {
    const select = $(filter.select);
    for (const value of values[filter.values]) addOption(select, value);
    select.closest("label").hidden = values[filter.values].length === 0;
  }
  if (values.years.length) {
    $("#f-year-min").placeholder = values.years[0];
    $("#f-year-max").placeholder = values.years[1];
  }
}

$("#filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!yearsInOrder()) return;
  if (state.file) search();
  else showStatus("Filters are set; they apply to your next search.");
});
$("#filter-form").addEventListener("reset", () => {
  setTimeout(() => showStatus(state.file ? "Filters reset; search again to apply." : "Filters reset."));
});

// "from" after "to" is caught here, with the fields named, before the server would refuse it.
function yearsInOrder() {
  const from = $("#f-year-min"), to = $("#f-year-max");
  const wrong = from.value !== "" && to.value !== "" && Number(from.value) > Number(to.value);
  to.setCustomValidity(wrong ? "The end year is before the start year." : "");
  if (wrong) {
    showError("Years: “to” is before “from”. Swap them or clear one.");
    to.focus();
  }
  return !wrong;
}

function filterFields(form) {
  for (const [name, value] of new FormData($("#filter-form"))) {
    if (String(value).trim() !== "") form.append(name, String(value).trim());
  }
}

// ---- searching and showing results --------------------------------------------------------------
$("#search").addEventListener("click", search);

async function search() {
  if (!state.file) return showError("Choose a photo first.");
  if (!yearsInOrder()) return;
  $("#search").disabled = true;
  showStatus("Preparing the photo…", true);
  $("#status").scrollIntoView({ behavior: "smooth", block: "nearest" });
  try {
    const [photo, scale] = await uploadablePhoto();
    const form = new FormData();
    form.append("image", photo, "photo.jpg");
    form.append("rotate", state.rotate);
    if (state.crop) form.append("crop", state.crop.map((v) => Math.round(v * scale)).join(","));
    filterFields(form);
    const result = await upload("api/search", form, (sent) => showStatus(sent < 1
      ? `Uploading the photo… ${Math.round(sent * 100)} %` : "Searching the collection…", true));
    history.replaceState(null, "", `#search=${result.search_id}`);
    render(result);
    $("#results").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (error) {
    showError(error.message);
  } finally {
    $("#search").disabled = false;
  }
}

// What each verdict (from the API) says to the person who took the photo.
const VERDICTS = {
  answer: "Verified match",
  also_in_photo: "Also in your photo",
  related: "Related: a similar picture",
  candidate: "Not verified: looks similar",
};
// Saved searches from before verdicts existed say only whether a hit was verified.
const verdictOf = (hit) => hit.verdict || (hit.verified ? "answer" : "candidate");
const claimsMatch = (hit) => ["answer", "also_in_photo"].includes(verdictOf(hit));

function render(result) {
  state.lastSearch = result;
  const found = result.data.filter(claimsMatch).length;
  const filters = describeFilters(result.request);
  showStatus((result.count === 0 ? "No records match these filters."
    : `${found === 1 ? "1 verified match" : found ? `${found} prints found in your photo`
      : "No verified match: the print may not be in the collection. Closest records:"}`
      + ` (${Math.round(result.elapsed_ms)} ms)`) + (filters ? ` Filtered by ${filters}.` : ""));
  const list = $("#result-list");
  list.replaceChildren(...result.data.map((hit, index) => card(hit, index)));
  $("#results").hidden = false;
}

function card(hit, index) {
  const { record } = hit;
  const m = record.metadata;
  const item = document.createElement("li");
  const claimed = claimsMatch(hit);
  const outline = claimed ? hit.region : null; // only a verified match has a region worth drawing
  item.className = `card ${verdictOf(hit)}${claimed ? " verified" : ""}`;
  item.dataset.recordId = record.record_id;
  item.dataset.verdict = verdictOf(hit);
  item.append(overlay(record.thumb_url, record.width, record.height, outline,
    `${m.title || record.record_id}${outline ? ", the part your photo shows outlined" : ""}`));
  const body = document.createElement("div");
  body.className = "body";
  const badge = el("span", VERDICTS[verdictOf(hit)], `badge${claimed ? " ok" : ""}`);
  body.append(badge, el("h3", m.title || record.record_id));
  const facts = [m.person, m.date, m.inventory_number, m.institution, m.image_licence].filter(Boolean);
  for (const fact of facts) body.append(el("p", fact, "meta"));
  body.append(el("p", `${record.collection} · ${record.record_id} · score ${hit.score.toFixed(1)}, `
    + `${hit.inliers} matching points`, "meta"));
  if (isWebLink(m.record_url)) {
    const link = el("a", "Catalogue record");
    link.setAttribute("aria-label", `Catalogue record: ${m.title || record.record_id}`);
    link.href = m.record_url;
    link.target = "_blank";
    link.rel = "noopener";
    body.append(link);
  }
  const details = el("button", "Details");
  details.type = "button";
  details.addEventListener("click", () => openDetail(index));
  body.append(details);
  item.append(body);
  return item;
}

function overlay(src, width, height, quad, alt) {
  const box = el("div", "", "overlay-box");
  const img = el("img");
  img.src = src;
  img.alt = alt;
  img.loading = "lazy";
  box.append(img);
  if (quad) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    const polygon = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    polygon.setAttribute("points", quad.map((p) => p.join(",")).join(" "));
    svg.append(polygon);
    box.append(svg);
  }
  return box;
}

function openDetail(index) {
  const result = state.lastSearch;
  const hit = result.data[index];
  const { record } = hit;
  $("#detail-title").textContent = record.metadata.title || record.record_id;
  $("#detail-query").replaceChildren(overlay(result.query_url, result.query_width, result.query_height,
    claimsMatch(hit) ? hit.query_region : null, "Your photo, with the print's outline"));
  const image = overlay(record.image_url, record.width, record.height, claimsMatch(hit) ? hit.region : null,
    "Catalogue image, with the part your photo shows");
  image.querySelector("img").loading = "eager";
  zoom = zoomable($("#detail-record"), image, record);
  const deep = record.iiif && (record.iiif.image_api_level >= 1 || record.iiif.tile_width);
  $("#detail-zoom-source").textContent = deep ? "(zoom loads detail from the museum's IIIF server)" : "";
  const m = record.metadata;
  $("#detail-credit").textContent = [m.credit_line, m.institution, m.image_licence && `Licence: ${m.image_licence}`]
    .filter(Boolean).join(" · ");
  const links = [[m.record_url, "Catalogue record"], [hit.iiif && hit.iiif.viewer_url, "Open in IIIF viewer"],
    [hit.iiif && hit.iiif.region_url, "Matched region, full resolution"], [record.iiif && record.iiif.manifest, "IIIF manifest"]];
  $("#detail-links").replaceChildren(...links.filter(([href]) => isWebLink(href)).map(([href, text]) => {
    const link = el("a", text);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    return link;
  }));
  const shown = Object.entries({ match: VERDICTS[verdictOf(hit)], ...record.metadata,
    collection: record.collection, record_id: record.record_id, matching_points: hit.inliers })
    .filter(([key, value]) => !HIDDEN_FIELDS.has(key) && value !== "" && value !== null);
  $("#detail-metadata").replaceChildren(...shown.map(([key, value]) => {
    const row = el("tr");
    row.append(el("th", FIELD_LABELS[key] || sentenceCase(key)), el("td", String(value)));
    return row;
  }));
  $("#detail").showModal();
}
$("#detail-close").addEventListener("click", () => $("#detail").close());

// Plain-language names of the catalogue's columns; links are shown as links above the table.
const FIELD_LABELS = {
  match: "Match", title: "Title", person: "Artist or maker", date: "Date", inventory_number: "Inventory number",
  classification: "Type", material_technique: "Technique", institution: "Institution", credit_line: "Credit line",
  image_licence: "Image licence", relations: "Related records", collection: "Collection",
  record_id: "Record number", matching_points: "Matching points (photo and record)",
};
const HIDDEN_FIELDS = new Set(["record_url", "image_url"]);
const sentenceCase = (key) => key.charAt(0).toUpperCase() + key.slice(1).replaceAll("_", " ");
let zoom = null;
$("#zoom-in").addEventListener("click", () => zoom && zoom.zoomIn());
$("#zoom-out").addEventListener("click", () => zoom && zoom.zoomOut());
$("#zoom-reset").addEventListener("click", () => zoom && zoom.reset());

// ---- sharing ----------------------------------------------------------------------------------
$("#share").addEventListener("click", async () => {
  const link = location.href;
  const id = new URLSearchParams(location.hash.slice(1)).get("search");
  try {
    if (id) await api(`api/searches/${encodeURIComponent(id)}/share`, { method: "POST" });
  } catch (error) {
    return showError(error.message);
  }
  try {
    await navigator.clipboard.writeText(link);
    showStatus("Link copied.");
  } catch {
    showStatus(`Share this link: ${link}`);
  }
});

async function openShared() {
  const id = new URLSearchParams(location.hash.slice(1)).get("search");
  if (!id) return;
  showStatus("Opening shared search…", true);
  try {
    const result = await api(`api/searches/${encodeURIComponent(id)}`);
    restoreFilters(result.request);
    render(result);
  } catch (error) {
    showError(error.message);
  }
}

// The filters a search was made with, in words ("" for none).
function describeFilters(request) {
  if (!request) return "";
  const parts = [];
  for (const { field, words } of SELECT_FILTERS) {
    if (request[field] && request[field].length) parts.push(`${words} ${request[field].join(" or ")}`);
  }
  if (request.year_min !== null || request.year_max !== null) {
    parts.push(`years ${request.year_min ?? "…"}–${request.year_max ?? "…"}`);
  }
  if (request.person) parts.push(`person “${request.person}”`);
  return parts.join(", ");
}

// A shared search's filters put back into the form, so a new search keeps them.
function restoreFilters(request) {
  if (!request) return;
  for (const { field, select } of SELECT_FILTERS) {
    const value = (request[field] || [])[0];
    if (value) addOption($(select), value);
    $(select).value = value || "";
  }
  $("#f-year-min").value = request.year_min ?? "";
  $("#f-year-max").value = request.year_max ?? "";
  $("#f-person").value = request.person || "";
  if (describeFilters(request)) $("#filters").open = true;
}

// ---- helpers ----------------------------------------------------------------------------------
const UNREACHABLE = "The server cannot be reached. Check your connection and try again.";

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error(UNREACHABLE);
  }
  const body = await response.json().catch(() => ({}));
  return answer(response.ok, response.status, body, response.headers.get("Retry-After"));
}

// A POST whose upload progress (0-1, then 1 while the server works) goes to onProgress: fetch
// cannot report it, XMLHttpRequest can.
function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.upload.addEventListener("load", () => onProgress(1));
    request.addEventListener("load", () => {
      try {
        const ok = request.status >= 200 && request.status < 300;
        resolve(answer(ok, request.status, request.response || {}, request.getResponseHeader("Retry-After")));
      } catch (error) {
        reject(error);
      }
    });
    request.addEventListener("error", () => reject(new Error(UNREACHABLE)));
    onProgress(0);
    request.send(form);
  });
}

function answer(ok, status, body, wait) {
  if (ok) return body;
  const detail = body.detail || `The server answered ${status}.`;
  throw new Error(wait ? `${detail} (in about ${wait} s)` : detail);
}

// Only http(s) links become links: a catalogue's javascript: or data: URL stays inert text.
function isWebLink(value) {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

async function loadPrivacy() {
  const policy = await api("api/privacy");
  const days = policy.shared_search_days;
  $("#privacy").textContent = `Your photo and its results are kept for ${hours(policy.query_photo_hours)} `
    + `so the result can be opened again, then deleted; copying a share link keeps them for ${days} days. `
    + "They are not used for anything else.";
}

function hours(value) {
  return value >= 48 ? `${Math.round(value / 24)} days` : `${value} hour${value === 1 ? "" : "s"}`;
}

function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showStatus(message, busy = false) {
  const status = $("#status");
  status.textContent = message;
  status.className = "";
  status.setAttribute("aria-busy", busy ? "true" : "false");
}

function showError(message) {
  showStatus(message);
  $("#status").className = "error";
}

loadFilters().catch((error) => showError(error.message));
loadPrivacy().catch(() => {});
openShared();
window.addEventListener("hashchange", openShared);
