// The duplicates review: the pairs `platemark duplicates` kept, group by group, each with both images
// side by side and the matched region outlined; a curator says what each pair is (same record,
// another impression, different). Decisions are kept on the server and decided pairs are not
// proposed again. The API wants the curator password, kept for this tab only (as the curator view's).

import { $, api, download, el, overlay, showError, showStatus, startPage } from "./common.js";
import { number, t } from "./i18n.js";

const KEY = "platemark.curator";
const PAGE_SIZE = 20;
const DECISIONS = ["same_record", "other_impression", "different"];
let offset = 0;
let latest = 0; // a late answer to an earlier request is dropped

const token = () => sessionStorage.getItem(KEY) || "";
const auth = () => ({ Authorization: `Bearer ${token()}` });

function query() {
  const params = new URLSearchParams({ offset, limit: PAGE_SIZE, across_collections: "true" });
  if ($("#relation").value) params.set("relation", $("#relation").value);
  if (!$("#decided").checked) params.set("undecided", "true");
  return params;
}

async function load() {
  const ticket = ++latest;
  showStatus(t("dups.loading"), true);
  let page;
  try {
    page = await api(`api/duplicates?${query()}`, { headers: auth() });
  } catch (error) {
    if (ticket !== latest) return;
    $("#groups").replaceChildren();
    return showError(error.message);
  }
  if (ticket !== latest) return;
  $("#login").hidden = true;
  $("#dup-filters").hidden = false;
  showStatus(page.count ? t("dups.count", { count: page.count, groups: page.groups }) : t("dups.none"));
  const sections = new Map();
  for (const pair of page.data) {
    if (!sections.has(pair.group)) sections.set(pair.group, groupSection(pair.group));
    sections.get(pair.group).querySelector("ol").append(pairCard(pair));
  }
  $("#groups").replaceChildren(...sections.values());
  $("#previous").disabled = offset === 0;
  $("#next").disabled = offset + page.data.length >= page.count;
}

function groupSection(group) {
  const section = el("section", "", "dup-group");
  section.append(el("h2", t("dups.group", { group })), el("ol", "", "dup-pairs"));
  return section;
}

function side(record, region) {
  const title = record.metadata.title || record.record_id;
  const figure = el("figure");
  figure.append(overlay(record.thumb_url, record.width, record.height, region,
    region ? t("dups.alt_region", { title }) : title));
  const caption = el("figcaption");
  caption.append(el("strong", title), el("span", `${record.collection} · ${record.record_id}`, "meta"));
  figure.append(caption);
  return figure;
}

function pairCard(pair) {
  const item = el("li", "", "dup-pair");
  item.dataset.relation = pair.relation;
  item.dataset.records = `${pair.a.record_id}|${pair.b.record_id}`;
  const images = el("div", "", "dup-images");
  images.append(side(pair.a, pair.region_a), side(pair.b, pair.region_b));
  const evidence = [t("dups.similarity", { value: number(pair.similarity, { maximumFractionDigits: 2 }) })];
  if (pair.relation !== "identical") evidence.unshift(t("dups.inliers", { count: number(pair.inliers) }));
  if (pair.inlier_coverage !== null) {
    evidence.push(t("dups.agreement", { percent: Math.round(pair.inlier_coverage * 100) }));
  }
  item.append(el("span", t(`dups.rel_${pair.relation}`), `badge relation-${pair.relation}`), images,
    el("p", t(`dups.explain_${pair.relation}`)), el("p", evidence.join(" · "), "meta"), decisionButtons(pair, item));
  return item;
}

function decisionButtons(pair, item) {
  const group = el("div", "", "feedback");
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", t("dups.decide_about", { a: pair.a.record_id, b: pair.b.record_id }));
  for (const decision of DECISIONS) {
    const button = el("button", t(`dups.decision_${decision}`));
    button.type = "button";
    button.dataset.decision = decision;
    button.setAttribute("aria-pressed", String(pair.decision === decision));
    button.addEventListener("click", () => sendDecision(pair, decision, button, item));
    group.append(button);
  }
  return group;
}

async function sendDecision(pair, decision, button, item) {
  const withdraw = button.getAttribute("aria-pressed") === "true";
  const body = {
    a: { collection: pair.a.collection, record_id: pair.a.record_id },
    b: { collection: pair.b.collection, record_id: pair.b.record_id },
    decision: withdraw ? null : decision,
  };
  try {
    await api("api/duplicates/decision", {
      method: "PUT", headers: { ...auth(), "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (error) {
    return showError(error.message);
  }
  for (const other of item.querySelectorAll("[data-decision]")) {
    other.setAttribute("aria-pressed", String(!withdraw && other === button));
  }
  showStatus(withdraw ? t("dups.withdrawn") : t("dups.kept", { decision: t(`dups.decision_${decision}`) }));
  item.classList.toggle("decided", !withdraw);
}

async function downloadCsv() {
  const params = query();
  params.delete("offset");
  params.delete("limit");
  let response;
  try {
    response = await fetch(`api/duplicates/export.csv?${params}`, { headers: auth() });
  } catch {
    return showError(t("error.unreachable"));
  }
  if (!response.ok) return showError(t("dups.export_failed"));
  download(await response.blob(), "platemark-duplicates.csv");
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("#token").value);
  load();
});
for (const id of ["#relation", "#decided"]) $(id).addEventListener("change", () => { offset = 0; load(); });
$("#export").addEventListener("click", downloadCsv);
$("#previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
$("#next").addEventListener("click", () => { offset += PAGE_SIZE; load(); });

await startPage("duplicates");
if (token()) load();
else showStatus(t("curator.ask_password"));
