// Many photos at once: a cataloguer drops 50-500 photos; each is searched in turn and its row
// (photo, best record, verdict, matched part) fills in. Rows and the photos still waiting are kept
// in IndexedDB, so the table survives a reload and the searches go on; it downloads as CSV, the
// web twin of `platemark search DIR --csv`.

import {
  $, ApiError, badgeClass, claimsMatch, csvText, download, dropArea, el, labelOf, matched, overlay, showError,
  showStatus, startPage, strength, upload, uploadablePhoto, verdictOf,
} from "./common.js";
import { languageReady, t } from "./i18n.js";

const MAX_PHOTOS = 1000; // more than a box of prints; the browser's storage holds ~300 kB each
const THUMB_SIDE = 160;
let db = null;
let running = false;

// ---- storage: one IndexedDB store of rows, in the order the photos were added ------------------
function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("platemark-batch", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("rows", { keyPath: "id", autoIncrement: true });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function store(mode, work) {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction("rows", mode);
    const result = work(transaction.objectStore("rows"));
    transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    transaction.onerror = () => reject(transaction.error);
  });
}

// The rows, by id in the order added: read from IndexedDB once when the page starts, then kept here
// and written through, so each search does not read the whole table (with its thumbnails) again.
const table = new Map();
const allRows = () => [...table.values()];

async function saveRow(row) {
  row.id = await store("readwrite", (rows) => rows.put(row));
  table.set(row.id, row);
}

// ---- adding photos ----------------------------------------------------------------------------
async function addPhotos(files) {
  const images = [...files].filter((file) => file.type.startsWith("image/")); // before the input is cleared
  await languageReady; // the file input works before the page has finished starting
  const room = MAX_PHOTOS - table.size;
  if (images.length > room) showError(t("batch.too_many", { count: MAX_PHOTOS }));
  for (const file of images.slice(0, Math.max(0, room))) {
    const row = { name: file.name, state: "waiting", added: Date.now() };
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      [row.photo] = await uploadablePhoto(bitmap, null); // upright and ≤1600 px, as the search page sends
      row.thumb = await blobDataUrl((await uploadablePhoto(bitmap, null, THUMB_SIDE))[0]);
      bitmap.close();
    } catch {
      Object.assign(row, { state: "failed", error: t("photo.not_an_image") });
    }
    await saveRow(row);
    renderRow(row);
    work(); // the first photos are searched while the rest are still being read
  }
}

function blobDataUrl(blob) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

// ---- searching, one photo at a time; the server's "wait" (429/503) is honoured -----------------
async function work() {
  if (running) return;
  running = true;
  try {
    for (;;) {
      const rows = allRows();
      const next = rows.find((row) => row.state === "waiting");
      showProgress(rows);
      if (!next) break;
      await searchRow(next);
    }
  } finally {
    running = false;
  }
}

async function searchRow(row) {
  const form = new FormData();
  form.append("image", row.photo, row.name);
  form.append("top_k", "5");
  for (;;) {
    try {
      const result = await upload("api/search", form);
      const best = result.data[0] || null;
      Object.assign(row, { state: "done", search_id: result.search_id, elapsed_ms: result.elapsed_ms, best });
      break;
    } catch (error) {
      if (error instanceof ApiError && error.retryAfter) {
        showStatus(t("batch.server_wait", { seconds: error.retryAfter }), true);
        await new Promise((resolve) => setTimeout(resolve, error.retryAfter * 1000));
        continue;
      }
      if (!(error instanceof ApiError)) { // the connection: try again shortly, the row stays waiting
        showError(error.message);
        await new Promise((resolve) => setTimeout(resolve, 5000));
        continue;
      }
      Object.assign(row, { state: "failed", error: error.message });
      break;
    }
  }
  delete row.photo; // searched: only the small thumbnail stays in the browser
  await saveRow(row);
  renderRow(row);
}

function showProgress(rows) {
  const done = rows.filter((row) => row.state !== "waiting").length;
  const progress = $("#progress");
  progress.hidden = rows.length === 0;
  progress.max = Math.max(1, rows.length);
  progress.value = done;
  if (rows.length === 0) return showStatus(t("batch.empty"));
  const found = rows.filter((row) => row.best && claimsMatch(row.best)).length;
  showStatus(done < rows.length
    ? t("batch.working", { done, count: rows.length })
    : t("batch.finished", { count: rows.length, found }), done < rows.length);
}

// ---- the table --------------------------------------------------------------------------------
function renderRow(row) {
  const id = `row-${row.id}`;
  const tr = document.getElementById(id) || el("tr");
  tr.id = id;
  tr.dataset.state = row.state;
  const photo = el("td");
  if (row.thumb) {
    const img = el("img", "", "batch-thumb");
    Object.assign(img, { src: row.thumb, alt: "" });
    photo.append(img);
  }
  photo.append(el("span", row.name, "file-name"));
  const record = el("td");
  const verdict = el("td");
  const region = el("td");
  if (row.state === "waiting") verdict.textContent = t("batch.waiting");
  else if (row.state === "failed") verdict.append(el("span", row.error, "error"));
  else if (!row.best) verdict.textContent = t("batch.no_result");
  else {
    const { record: best } = row.best;
    const title = best.metadata.title || best.record_id;
    const link = el("a", title);
    link.href = `./#search=${encodeURIComponent(row.search_id)}`;
    record.append(link, el("span", `${best.collection} · ${best.record_id}`, "meta"));
    verdict.append(el("span", labelOf(row.best), badgeClass(row.best)), el("span", strength(row.best), "meta"));
    const outline = matched(row.best) ? row.best.region : null;
    region.append(overlay(best.thumb_url, best.width, best.height, outline,
      outline ? t("card.alt_region", { title }) : title));
  }
  tr.replaceChildren(photo, record, verdict, region);
  if (!tr.isConnected) $("#batch-table tbody").append(tr);
}

function downloadCsv() {
  const header = ["query", "record_id", "collection", "verified", "verdict", "relation", "inliers", "score", "title",
    "elapsed_ms", "error", "search_link"];
  const lines = allRows().map((row) => {
    const best = row.best;
    return [row.name, best ? best.record.record_id : "", best ? best.record.collection : "",
      best ? String(best.verified) : "false", best ? verdictOf(best) : "", best ? best.relation || "" : "",
      best ? best.inliers : "",
      best ? best.score : "", best ? best.record.metadata.title || "" : "", row.elapsed_ms ?? "", row.error || "",
      row.search_id ? new URL(`./#search=${row.search_id}`, location.href).href : ""];
  });
  download(new Blob([csvText([header, ...lines])], { type: "text/csv" }), "platemark-batch.csv");
}

async function clearTable() {
  if (running) return showError(t("batch.busy"));
  await store("readwrite", (rows) => rows.clear());
  table.clear();
  $("#batch-table tbody").replaceChildren();
  showProgress([]);
}

// ---- wiring -----------------------------------------------------------------------------------
$("#files").addEventListener("change", (event) => {
  addPhotos(event.target.files);
  event.target.value = "";
});
dropArea($("#dropzone"), $("#files"), addPhotos);
$("#download").addEventListener("click", downloadCsv);
$("#clear").addEventListener("click", clearTable);

await startPage("batch");
try {
  db = await openDatabase();
  const rows = await store("readonly", (stored) => stored.getAll());
  for (const row of rows) table.set(row.id, row);
  rows.forEach(renderRow);
  showProgress(rows);
  work(); // photos still waiting when the page was closed are searched now
} catch {
  showError(t("batch.no_storage"));
}
