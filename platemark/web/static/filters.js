// The filter form the search and browse pages share: collections and catalogue facets (several
// values each), years and person. It checks the years before anything is sent, hides facets no
// record has, describes the filters in words and restores them from a saved search or a link.

import { $, api, el, showError } from "./common.js";
import { list, t } from "./i18n.js";

// The select filters: the request's field, the /api/filters list of its values, the select's id.
const SELECT_FILTERS = [
  { field: "collection", values: "collections", id: "f-collection" },
  { field: "classification", values: "classification", id: "f-classification" },
  { field: "material_technique", values: "material_technique", id: "f-technique" },
  { field: "institution", values: "institution", id: "f-institution" },
];
const TEXT_FILTERS = [
  { field: "person", id: "f-person", type: "search" },
  { field: "year_min", id: "f-year-min", type: "number" },
  { field: "year_max", id: "f-year-max", type: "number" },
];

const form = () => $("#filter-form");

// Builds the fields into <form id="filter-form">, then loads the values the catalog has.
export async function setUpFilters(onApply) {
  const fields = [];
  for (const { field, id } of SELECT_FILTERS) {
    const label = el("label", "", "facet");
    const select = el("select");
    Object.assign(select, { id, name: field, multiple: true, size: 4 });
    select.setAttribute("aria-describedby", "filter-hint");
    label.append(el("span", t(`filter.${field}`)), select);
    fields.push(label);
  }
  const person = el("label");
  person.append(el("span", t("filter.person")), input(TEXT_FILTERS[0]));
  const years = el("fieldset", "", "years");
  years.append(el("legend", t("filter.years")));
  for (const spec of TEXT_FILTERS.slice(1)) {
    const label = el("label");
    label.append(el("span", t(`filter.${spec.field}`)), input(spec));
    years.append(label);
  }
  const actions = el("div", "", "filter-actions");
  const apply = el("button", t("filter.apply"));
  apply.type = "submit";
  const reset = el("button", t("filter.reset"));
  Object.assign(reset, { type: "reset", id: "reset-filters" });
  actions.append(apply, reset);
  const hint = el("p", t("filter.hint"), "hint");
  hint.id = "filter-hint";
  form().replaceChildren(...fields, person, years, hint, actions);
  form().addEventListener("submit", (event) => {
    event.preventDefault();
    if (yearsInOrder()) onApply();
  });
  form().addEventListener("reset", () => setTimeout(() => onApply({ reset: true })));
  const values = await api("api/filters");
  for (const { values: name, id } of SELECT_FILTERS) {
    for (const value of values[name]) addOption($(`#${id}`), value);
    $(`#${id}`).closest("label").hidden = values[name].length === 0; // no record has one: no facet
  }
  if (values.years.length) {
    $("#f-year-min").placeholder = values.years[0];
    $("#f-year-max").placeholder = values.years[1];
  }
}

function input({ field, id, type }) {
  const node = el("input");
  Object.assign(node, { id, name: field, type, autocomplete: "off" });
  if (type === "number") node.inputMode = "numeric";
  return node;
}

// Adds a value to a select unless it is there (a link may name one before the list loads).
function addOption(select, value) {
  if (![...select.options].some((option) => option.value === value)) select.add(new Option(value, value));
}

// "from" after "to" is caught here, with the fields named, before the server would refuse it.
export function yearsInOrder() {
  const from = $("#f-year-min"), to = $("#f-year-max");
  const wrong = from.value !== "" && to.value !== "" && Number(from.value) > Number(to.value);
  to.setCustomValidity(wrong ? t("filter.years_backwards") : "");
  if (wrong) {
    showError(t("filter.years_backwards"));
    to.focus();
  }
  return !wrong;
}

// The filters as [name, value] pairs, repeated names for several values.
export function filterPairs() {
  return [...new FormData(form())].map(([name, value]) => [name, String(value).trim()]).filter(([, v]) => v !== "");
}

// The filters of a request ({collection: [...], year_min, person, ...}), or of a URL's parameters.
export function restoreFilters(request) {
  for (const { field, id } of SELECT_FILTERS) {
    const wanted = request[field] || [];
    for (const value of wanted) addOption($(`#${id}`), value);
    for (const option of $(`#${id}`).options) option.selected = wanted.includes(option.value);
  }
  for (const { field, id } of TEXT_FILTERS) $(`#${id}`).value = request[field] ?? "";
  if (describeFilters(request)) $("#filters").open = true;
}

export function requestFromParams(params) {
  const request = {};
  for (const { field } of SELECT_FILTERS) request[field] = params.getAll(field);
  for (const { field } of TEXT_FILTERS) request[field] = params.get(field) || null;
  return request;
}

// The filters a search or listing used, in words ("" for none).
export function describeFilters(request) {
  if (!request) return "";
  const parts = [];
  for (const { field } of SELECT_FILTERS) {
    if (request[field] && request[field].length) {
      parts.push(t(`describe.${field}`, { values: list(request[field]) }));
    }
  }
  const [from, to] = [request.year_min, request.year_max];
  if ((from ?? null) !== null || (to ?? null) !== null) {
    parts.push(t("describe.years", { from: String(from ?? "…"), to: String(to ?? "…") }));
  }
  if (request.person) parts.push(t("describe.person", { person: request.person }));
  return list(parts, "conjunction");
}
