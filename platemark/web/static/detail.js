// A record's details: on a desktop a side panel beside the results (they stay usable), on a phone
// a full-screen dialog with the facts first. The record image zooms (zoom.js) with the part the
// photo shows outlined, the photo beside it.

import { $, el, externalLink, isWebLink, labelOf, matched, overlay } from "./common.js";
import { t } from "./i18n.js";
import { zoomable } from "./zoom.js";

const WIDE = matchMedia("(min-width: 64rem)");
let panel = null;
let zoom = null;
let opener = null;

// Catalogue fields shown under their plain-language name; links are shown as links instead.
const LABELLED = ["title", "person", "date", "inventory_number", "classification", "material_technique",
  "institution", "credit_line", "image_licence", "relations"];
const HIDDEN_FIELDS = new Set(["record_url", "image_url"]);
const sentenceCase = (key) => key.charAt(0).toUpperCase() + key.slice(1).replaceAll("_", " ");

function build() {
  const dialog = el("dialog");
  dialog.id = "detail";
  dialog.setAttribute("aria-labelledby", "detail-title");
  dialog.innerHTML = `
    <div class="detail-head">
      <h2 id="detail-title"></h2>
      <button type="button" id="detail-close" class="icon"></button>
    </div>
    <table id="detail-metadata"></table>
    <p id="detail-credit" class="meta"></p>
    <p id="detail-links" class="links"></p>
    <div class="side-by-side">
      <figure id="detail-photo"><div class="overlay-box" id="detail-query"></div><figcaption></figcaption></figure>
      <figure>
        <div class="zoom" id="detail-record" tabindex="0" role="img"></div>
        <div class="zoom-tools">
          <button type="button" id="zoom-in" class="icon">+</button>
          <button type="button" id="zoom-out" class="icon">−</button>
          <button type="button" id="zoom-reset"></button>
        </div>
        <figcaption><span id="detail-record-caption"></span> <span id="detail-zoom-source" class="meta"></span></figcaption>
      </figure>
    </div>`;
  document.body.append(dialog);
  $("#detail-close").setAttribute("aria-label", t("detail.close"));
  $("#detail-close").textContent = "✕";
  $("#detail-record").setAttribute("aria-label", t("detail.zoom_help"));
  $("#zoom-in").setAttribute("aria-label", t("detail.zoom_in"));
  $("#zoom-out").setAttribute("aria-label", t("detail.zoom_out"));
  $("#zoom-reset").textContent = t("detail.zoom_fit");
  $("#detail-photo figcaption").textContent = t("detail.your_photo");
  $("#detail-record-caption").textContent = t("detail.catalogue_image");
  $("#detail-close").addEventListener("click", closeDetail);
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !dialog.matches(":modal")) closeDetail(); // a modal one closes by itself
  });
  dialog.addEventListener("close", () => {
    document.body.classList.remove("with-panel");
    if (opener && opener.isConnected) opener.focus();
  });
  $("#zoom-in").addEventListener("click", () => zoom && zoom.zoomIn());
  $("#zoom-out").addEventListener("click", () => zoom && zoom.zoomOut());
  $("#zoom-reset").addEventListener("click", () => zoom && zoom.reset());
  return dialog;
}

function closeDetail() {
  panel.close();
}

// The "Details" button of a record's card (named after the record for screen readers).
export function detailsButton(record, title, options = {}) {
  const button = el("button", t("card.details"));
  button.type = "button";
  button.setAttribute("aria-label", t("card.details_of", { title }));
  button.addEventListener("click", () => showDetail(record, options));
  return button;
}

// Shows a record; with `hit` and `search` (a search result), also the photo and the matched region.
function showDetail(record, { hit = null, search = null } = {}) {
  panel = panel || build();
  opener = document.activeElement;
  const m = record.metadata;
  const claimed = hit && matched(hit); // its sheet or another impression of its plate: the region is shown
  $("#detail-title").textContent = m.title || record.record_id;
  $("#detail-photo").hidden = !search;
  if (search) {
    $("#detail-query").replaceChildren(overlay(search.query_url, search.query_width, search.query_height,
      claimed ? hit.query_region : null, t("detail.photo_alt")));
  }
  const image = overlay(record.image_url, record.width, record.height, claimed ? hit.region : null,
    claimed ? t("detail.image_alt_region") : t("detail.catalogue_image"));
  image.querySelector("img").loading = "eager";
  zoom = zoomable($("#detail-record"), image, record);
  const deep = record.iiif && (record.iiif.image_api_level >= 1 || record.iiif.tile_width);
  $("#detail-zoom-source").textContent = deep ? t("detail.zoom_iiif") : "";
  $("#detail-credit").textContent = [m.credit_line, m.image_licence && t("detail.licence", { licence: m.image_licence })]
    .filter(Boolean).join(" · ");
  const links = [[m.record_url, t("detail.record_link")], [hit && hit.iiif && hit.iiif.viewer_url, t("detail.viewer_link")],
    [hit && hit.iiif && hit.iiif.region_url, t("detail.region_link")],
    [record.iiif && record.iiif.manifest, t("detail.manifest_link")]];
  $("#detail-links").replaceChildren(...links.filter(([href]) => isWebLink(href))
    .map(([href, text]) => externalLink(href, text)));
  const rows = [];
  if (hit) rows.push([t("field.match"), labelOf(hit)]);
  for (const [key, value] of Object.entries(m)) {
    if (HIDDEN_FIELDS.has(key) || value === "" || value === null) continue;
    rows.push([LABELLED.includes(key) ? t(`field.${key}`) : sentenceCase(key), String(value)]);
  }
  rows.push([t("field.collection"), record.collection], [t("field.record_id"), record.record_id]);
  $("#detail-metadata").replaceChildren(...rows.map(([label, value]) => {
    const row = el("tr");
    row.append(el("th", label), el("td", value));
    return row;
  }));
  if (!panel.open) {
    if (WIDE.matches) {
      panel.show(); // beside the results, which stay usable
      document.body.classList.add("with-panel");
    } else {
      panel.showModal();
    }
  }
  $("#detail-close").focus();
}
