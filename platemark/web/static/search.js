// The search page: pick or take a photo, crop and rotate it, search, see the answer and say
// whether it is right.

import {
  $, api, badgeClass, claimsMatch, dropArea, el, externalLink, isWebLink, labelOf, matched, overlay, sharesPlate,
  showError, showStatus, startPage, strength, upload, uploadablePhoto, verdictOf,
} from "./common.js";
import { detailsButton } from "./detail.js";
import { describeFilters, filterPairs, restoreFilters, setUpFilters, yearsInOrder } from "./filters.js";
import { languageReady, number, t } from "./i18n.js";

const state = { file: null, bitmap: null, rotate: 0, crop: null, lastSearch: null, feedbackDays: 90 };

// ---- picking a photo: camera, file, drag and drop, paste -------------------------------------
for (const input of [$("#camera"), $("#file")]) {
  input.addEventListener("change", () => input.files[0] && usePhoto(input.files[0]));
}
dropArea($("#dropzone"), $("#file"), (files) => files[0] && usePhoto(files[0]));
document.addEventListener("paste", (event) => {
  const item = [...event.clipboardData.items].find((i) => i.type.startsWith("image/"));
  if (item) usePhoto(item.getAsFile());
});

async function usePhoto(file) {
  await languageReady; // the listeners above are in place before the page has finished starting
  try {
    state.bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    forgetPhoto(); // Search must not search the previous photo again
    return showError(t("photo.not_an_image"));
  }
  Object.assign(state, { file, rotate: 0, crop: null });
  $("#editor").hidden = false;
  drawPreview();
  showStatus(t("photo.ready"));
}

function forgetPhoto() {
  Object.assign(state, { file: null, bitmap: null, rotate: 0, crop: null, lastSearch: null });
  $("#editor").hidden = true;
  $("#results").hidden = true;
  $("#result-list").replaceChildren();
  history.replaceState(null, "", location.pathname + location.search);
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
    ? t("crop.set_to", { crop: state.crop.map((v) => number(Math.round(v))).join(", ") })
    : t("crop.help");
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
  if (f.x < 0 || f.y < 0 || w < 16 || h < 16) return showError(t("crop.does_not_fit"));
  state.crop = [f.x, f.y, w, h];
  drawPreview();
  showStatus(t("crop.done"));
});
$("#rotate-left").addEventListener("click", () => turn(270));
$("#rotate-right").addEventListener("click", () => turn(90));
$("#clear-crop").addEventListener("click", () => { state.crop = null; drawPreview(); });

function turn(degrees) {
  state.rotate = (state.rotate + degrees) % 360;
  state.crop = null;
  drawPreview();
}

function filtersApplied({ reset = false } = {}) {
  if (state.file && !reset) search();
  else if (reset) showStatus(state.file ? t("filter.reset_search_again") : t("filter.reset_done"));
  else showStatus(t("filter.set_for_next"));
}

// ---- searching and showing results --------------------------------------------------------------
$("#search").addEventListener("click", search);

async function search() {
  if (!state.file) return showError(t("photo.choose_first"));
  if (!yearsInOrder()) return;
  $("#search").disabled = true;
  showStatus(t("search.preparing"), true);
  $("#status").scrollIntoView({ behavior: "smooth", block: "nearest" });
  try {
    const [photo, scale] = await uploadablePhoto(state.bitmap, state.file);
    const form = new FormData();
    form.append("image", photo, "photo.jpg");
    form.append("rotate", state.rotate);
    if (state.crop) form.append("crop", state.crop.map((v) => Math.round(v * scale)).join(","));
    for (const [name, value] of filterPairs()) form.append(name, value);
    const result = await upload("api/search", form, (sent) => showStatus(sent < 1
      ? t("search.uploading", { percent: Math.round(sent * 100) }) : t("search.searching"), true));
    history.replaceState(null, "", `${location.pathname}${location.search}#search=${result.search_id}`);
    render(result);
    $("#results").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (error) {
    showError(error.message);
  } finally {
    $("#search").disabled = false;
  }
}

function render(result) {
  state.lastSearch = result;
  const found = result.data.filter(claimsMatch).length;
  const filters = describeFilters(result.request);
  let message = result.count === 0 ? t("results.none_match_filters")
    : found ? t("results.found", { count: found })
      : result.data.some(sharesPlate) ? t("results.same_plate") : t("results.not_verified");
  message += ` ${t("results.time", { ms: Math.round(result.elapsed_ms) })}`;
  if (filters) message += ` ${t("results.filtered_by", { filters })}`;
  showStatus(message);
  $("#result-list").replaceChildren(...result.data.map((hit, index) => card(hit, index)));
  $("#none-of-these").hidden = result.count === 0;
  $("#none-of-these").setAttribute("aria-pressed", "false");
  $("#feedback-note").textContent = t("feedback.note", { days: state.feedbackDays });
  $("#results").hidden = false;
}

function card(hit, index) {
  const { record } = hit;
  const m = record.metadata;
  const item = el("li");
  const claimed = claimsMatch(hit);
  const outline = matched(hit) ? hit.region : null; // only a verified match has a region worth drawing
  item.className = `card ${verdictOf(hit)}${claimed ? " verified" : sharesPlate(hit) ? " plate" : ""}`;
  item.dataset.recordId = record.record_id;
  item.dataset.verdict = verdictOf(hit);
  const title = m.title || record.record_id;
  item.append(overlay(record.thumb_url, record.width, record.height, outline,
    outline ? t("card.alt_region", { title }) : title));
  const body = el("div", "", "body");
  item.dataset.relation = hit.relation || "";
  body.append(el("span", labelOf(hit), badgeClass(hit)), el("h3", title));
  body.append(el("p", strength(hit), "strength"));
  for (const fact of [m.person, m.date, m.inventory_number, m.institution].filter(Boolean)) {
    body.append(el("p", fact, "meta"));
  }
  const actions = el("div", "", "card-actions");
  actions.append(detailsButton(record, title, { hit, search: state.lastSearch }));
  if (isWebLink(m.record_url)) actions.append(externalLink(m.record_url, t("card.record"), t("card.record_of", { title })));
  body.append(actions, feedbackButtons(hit, title, index));
  item.append(body);
  return item;
}

// ---- feedback: "This is it" / "Not this one" / "None of these" ---------------------------------
function feedbackButtons(hit, title, index) {
  const group = el("div", "", "feedback");
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", t("feedback.about", { title }));
  for (const kind of ["this", "not_this"]) {
    const button = el("button", t(`feedback.${kind}`));
    button.type = "button";
    button.dataset.answer = kind;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => sendFeedback(kind, hit, button, index));
    group.append(button);
  }
  return group;
}

async function sendFeedback(kind, hit, button, index) {
  const search = state.lastSearch;
  const body = { answer: kind };
  if (hit) Object.assign(body, { collection: hit.record.collection, record_id: hit.record.record_id });
  try {
    await api(`api/searches/${encodeURIComponent(search.search_id)}/feedback`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (error) {
    return showError(error.message);
  }
  // Mirror what the server keeps: one answer per result; "none" withdraws "this is it" and back.
  if (kind === "none") {
    for (const other of document.querySelectorAll('#result-list [data-answer="this"]')) other.setAttribute("aria-pressed", "false");
  } else {
    for (const other of button.parentElement.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
    if (kind === "this") $("#none-of-these").setAttribute("aria-pressed", "false");
  }
  button.setAttribute("aria-pressed", "true");
  showStatus(t(`feedback.thanks_${kind}`, { position: index + 1 }));
}

$("#none-of-these").addEventListener("click", (event) => sendFeedback("none", null, event.currentTarget, 0));

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
    showStatus(t("share.copied"));
  } catch {
    showStatus(t("share.this_link", { link }));
  }
});

async function openShared() {
  const id = new URLSearchParams(location.hash.slice(1)).get("search");
  if (!id) return;
  showStatus(t("share.opening"), true);
  try {
    const result = await api(`api/searches/${encodeURIComponent(id)}`);
    if (result.request) restoreFilters(result.request);
    render(result);
  } catch (error) {
    showError(error.message);
  }
}

async function loadPrivacy() {
  const policy = await api("api/privacy");
  state.feedbackDays = policy.feedback_days;
  const hours = policy.query_photo_hours;
  const kept = hours >= 48 ? t("time.days", { count: Math.round(hours / 24) }) : t("time.hours", { count: hours });
  $("#privacy").textContent = t("privacy.text", { kept, days: policy.shared_search_days });
}

await startPage("search");
setUpFilters(filtersApplied).catch((error) => showError(error.message));
loadPrivacy().catch(() => {});
openShared();
window.addEventListener("hashchange", openShared);
