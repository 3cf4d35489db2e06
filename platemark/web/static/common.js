// What every page shares: its header (navigation, language), talking to the API, the status
// line, and small DOM helpers.

import { LANGUAGES, chooseLanguage, language, startLanguage, t } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A link that opens another site in a new tab; only http(s) URLs become links, so a catalogue's
// javascript: or data: URL stays inert text.
export function externalLink(href, text, label = "") {
  const link = el("a", text);
  link.href = href;
  link.target = "_blank";
  link.rel = "noopener";
  if (label) link.setAttribute("aria-label", label);
  return link;
}

export function isWebLink(value) {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

// ---- the page's frame -------------------------------------------------------------------------
const PAGES = [["./", "nav.search", "search"], ["browse", "nav.browse", "browse"], ["batch", "nav.batch", "batch"]];

// Translates the page, then fills <header id="site-header"> with the site's name, the navigation
// (the current page marked) and the language menu.
export async function startPage(current) {
  await startLanguage();
  const header = $("#site-header");
  const brand = el("a", "platemark", "brand");
  brand.href = "./";
  const nav = el("nav");
  nav.setAttribute("aria-label", t("nav.label"));
  for (const [href, key, name] of PAGES) {
    const link = el("a", t(key));
    link.href = href;
    if (name === current) link.setAttribute("aria-current", "page");
    nav.append(link);
  }
  const label = el("label", "", "language");
  const select = el("select");
  select.id = "language";
  for (const [code, name] of Object.entries(LANGUAGES)) select.add(new Option(name, code, false, code === language));
  select.addEventListener("change", () => chooseLanguage(select.value));
  label.append(el("span", t("language"), "visually-hidden"), select);
  header.replaceChildren(brand, nav, label);
}

// A drop area: images dropped on it go to onFiles, and Enter or Space on it opens the file picker
// of `input` (so keyboard users reach the picker from the area that has the focus).
export function dropArea(zone, input, onFiles) {
  zone.addEventListener("keydown", (event) => {
    if (event.target === zone && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    onFiles([...event.dataTransfer.files].filter((file) => file.type.startsWith("image/")));
  });
}

// ---- the status line (announced to screen readers: role=status) -------------------------------
export function showStatus(message, busy = false) {
  const status = $("#status");
  status.textContent = message;
  status.className = "";
  status.setAttribute("aria-busy", busy ? "true" : "false");
}

export function showError(message) {
  showStatus(message);
  $("#status").className = "error";
}

// ---- the API ----------------------------------------------------------------------------------
export async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error(t("error.unreachable"));
  }
  const body = await response.json().catch(() => ({}));
  return answer(response.ok, response.status, body, response.headers.get("Retry-After"));
}

// A POST whose upload progress (0-1, then 1 while the server works) goes to onProgress: fetch
// cannot report it, XMLHttpRequest can.
export function upload(path, form, onProgress = () => {}) {
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
    request.addEventListener("error", () => reject(new Error(t("error.unreachable"))));
    onProgress(0);
    request.send(form);
  });
}

// An API error: the server's message (in English, as the API speaks it), with the wait it asks for.
export class ApiError extends Error {
  constructor(message, status, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function answer(ok, status, body, wait) {
  if (ok) return body;
  const detail = body.detail || t("error.status", { status });
  const retryAfter = wait ? Number(wait) : null;
  throw new ApiError(retryAfter ? `${detail} ${t("error.retry", { seconds: retryAfter })}` : detail, status, retryAfter);
}

// The photo as uploaded: upright (EXIF orientation applied by the browser) and at most
// UPLOAD_SIDE pixels long, the size the server searches at, so a 12 MP phone photo sends a few
// hundred kilobytes, not megabytes. Returns the image and the factor its pixels were scaled by.
export const UPLOAD_SIDE = 1600;

export async function uploadablePhoto(bitmap, file, side = UPLOAD_SIDE) {
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  if (scale === 1 && file && file.type === "image/jpeg") return [file, 1];
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  return [blob, canvas.width / bitmap.width];
}

// ---- images with an outlined region -----------------------------------------------------------
export function overlay(src, width, height, quad, alt) {
  const box = el("div", "", "overlay-box");
  const img = el("img");
  img.src = src;
  img.alt = alt;
  img.loading = "lazy";
  img.width = width;
  img.height = height;
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

// ---- what a result means, in words ------------------------------------------------------------
// Saved searches from before verdicts existed say only whether a hit was verified, and those from
// before relations existed did not tell the photographed sheet from another impression of its plate.
export const verdictOf = (hit) => hit.verdict || (hit.verified ? "answer" : "candidate");
const OTHER_SHEET = ["same_plate", "mirror"];
// Verified on its own part of the photo: the record's sheet, or another impression of its plate.
export const matched = (hit) => ["answer", "also_in_photo"].includes(verdictOf(hit));
// The photo shows this record's sheet.
export const claimsMatch = (hit) => matched(hit) && !OTHER_SHEET.includes(hit.relation);
// The photo shows another sheet printed from this record's plate (or its mirror image).
export const sharesPlate = (hit) => matched(hit) && OTHER_SHEET.includes(hit.relation);
// The badge text of a result: its verdict, or what the photographed sheet is to the record.
export const labelOf = (hit) => (sharesPlate(hit) ? t(`relation.${hit.relation}`) : t(`verdict.${verdictOf(hit)}`));
export const badgeClass = (hit) => `badge${claimsMatch(hit) ? " ok" : sharesPlate(hit) ? " plate" : ""}`;

// How strongly the photo and the record agree, in words a visitor understands; the counts of
// matching points behind it are for curators (the curator view shows them).
export function strength(hit) {
  if (sharesPlate(hit)) return t(`strength.${hit.relation}`);
  if (!claimsMatch(hit)) return t("strength.look");
  const detail = hit.relation === "detail" ? ` ${t("strength.detail")}` : "";
  if (hit.inliers >= 100) return t("strength.very_strong") + detail;
  if (hit.inliers >= 40) return t("strength.strong") + detail;
  return t("strength.clear") + detail;
}

// Text for a spreadsheet cell: a leading = + - @ would make it a formula (as the CLI's CSV does).
export const spreadsheetSafe = (value) => (/^[=+\-@\t\r]/.test(String(value)) ? `'${value}` : String(value));

export function csvText(rows) {
  const cell = (value) => `"${spreadsheetSafe(value ?? "").replaceAll('"', '""')}"`;
  return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

// Hands a file made in the page to the browser's downloads.
export function download(blob, name) {
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
