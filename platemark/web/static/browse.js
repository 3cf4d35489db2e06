// The browse page: page through the records and search their text (title, person, inventory
// number, any metadata; the store's full-text index answers), with the same filters as a photo
// search. The address holds the query, the filters and the page, so a link shows the same list.

import { $, api, el, overlay, showError, showStatus, startPage } from "./common.js";
import { detailsButton } from "./detail.js";
import { describeFilters, filterPairs, requestFromParams, restoreFilters, setUpFilters } from "./filters.js";
import { t } from "./i18n.js";

const PAGE_SIZE = 24;

function currentParams() {
  return new URLSearchParams(location.search);
}

// A new listing from the form: the address changes (so Back and links work), then it loads.
function listFromForm({ reset = false } = {}) {
  const params = new URLSearchParams();
  const lang = currentParams().get("lang");
  if (lang) params.set("lang", lang);
  const q = $("#q").value.trim();
  if (q) params.set("q", q);
  if (!reset) for (const [name, value] of filterPairs()) params.append(name, value);
  history.pushState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
  load();
}

function goToOffset(offset) {
  const params = currentParams();
  if (offset > 0) params.set("offset", offset);
  else params.delete("offset");
  history.pushState(null, "", `${location.pathname}?${params}`);
  load().then(() => $("#record-list").scrollIntoView({ block: "start" }));
}

let latestLoad = 0;

// Back and Forward put the address's words and filters in the form; otherwise the form keeps what it
// holds unless the address says otherwise, so that what a visitor typed while the page was still
// starting is not wiped by its first listing.
async function load({ fromHistory = false } = {}) {
  const ticket = ++latestLoad; // an answer to an earlier listing that arrives late is dropped
  const params = currentParams();
  const request = requestFromParams(params);
  if (fromHistory || params.has("q")) $("#q").value = params.get("q") || "";
  if (fromHistory || describeFilters(request)) restoreFilters(request);
  const query = new URLSearchParams([...params].filter(([name]) => name !== "lang"));
  if (!query.has("limit")) query.set("limit", PAGE_SIZE); // a link may ask for another page size
  showStatus(t("browse.loading"), true);
  let page;
  try {
    page = await api(`api/records?${query}`);
  } catch (error) {
    if (ticket === latestLoad) showError(error.message);
    return;
  }
  if (ticket !== latestLoad) return;
  $("#record-list").replaceChildren(...page.data.map(card));
  const first = page.count ? page.offset + 1 : 0;
  const last = page.offset + page.data.length;
  const words = params.get("q");
  const filters = describeFilters(request);
  let message = page.count === 0 ? t("browse.none") : t("browse.count", { count: page.count });
  if (words) message += ` ${t("browse.matching", { words })}`;
  if (filters) message += ` ${t("results.filtered_by", { filters })}`;
  showStatus(message);
  $("#page-info").textContent = page.count ? t("browse.range", { first, last, count: page.count }) : "";
  $("#previous").disabled = page.offset === 0;
  $("#next").disabled = last >= page.count;
  $("#previous").onclick = () => goToOffset(Math.max(0, page.offset - page.limit));
  $("#next").onclick = () => goToOffset(page.offset + page.limit);
}

function card(record) {
  const m = record.metadata;
  const title = m.title || record.record_id;
  const item = el("li", "", "card");
  item.dataset.recordId = record.record_id;
  item.append(overlay(record.thumb_url, record.width, record.height, null, title));
  const body = el("div", "", "body");
  body.append(el("h3", title));
  for (const fact of [m.person, m.date, m.inventory_number || record.record_id].filter(Boolean)) {
    body.append(el("p", fact, "meta"));
  }
  body.append(detailsButton(record, title));
  item.append(body);
  return item;
}

$("#text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  listFromForm();
});
window.addEventListener("popstate", () => load({ fromHistory: true }));

await startPage("browse");
setUpFilters(listFromForm).catch((error) => showError(error.message));
load();
