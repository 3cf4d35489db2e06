// The page's language: English, German, French or Italian, chosen from the browser (or ?lang=,
// or the header's menu, remembered). Every text on the pages comes from locales/<lang>.json; the
// HTML names its texts with data-i18n (textContent) and data-i18n-<attribute> (aria-label, …).

export const LANGUAGES = { en: "English", de: "Deutsch", fr: "Français", it: "Italiano" };
const STORED = "platemark.language";

export let language = "en";
let messages = {};
let english = {};

function chosenLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  let stored = null;
  try {
    stored = localStorage.getItem(STORED);
  } catch { /* storage blocked: the browser's languages decide */ }
  const wanted = [asked, stored, ...(navigator.languages || [navigator.language])].filter(Boolean);
  for (const tag of wanted) {
    const base = tag.toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

async function catalog(code) {
  const response = await fetch(new URL(`locales/${code}.json`, import.meta.url));
  if (!response.ok) throw new Error(`no messages for ${code}`);
  return response.json();
}

let messagesLoaded;
// Resolves once the messages are loaded: handlers that may run before (a photo picked while the
// page is still starting) wait for it, or `t` would show message keys.
export const languageReady = new Promise((resolve) => {
  messagesLoaded = resolve;
});

// Loads the catalogs and translates the page; call once before anything shows text.
export async function startLanguage() {
  language = chosenLanguage();
  english = await catalog("en");
  messages = language === "en" ? english : await catalog(language).catch(() => english);
  document.documentElement.lang = language;
  translate(document);
  messagesLoaded();
}

export function chooseLanguage(code) {
  try {
    localStorage.setItem(STORED, code);
  } catch { /* not remembered; ?lang= still works */ }
  // The page starts again in the new language; a search stays in the #hash.
  const url = new URL(location.href);
  if (!url.searchParams.has("lang")) return location.reload();
  url.searchParams.delete("lang");
  location.replace(url);
}

// The message `key` with {name} placeholders filled; numbers are formatted for the language. A
// message may be {one: …, other: …}, chosen by the plural rules of the language for params.count.
export function t(key, params = {}) {
  let text = messages[key] ?? english[key] ?? key;
  if (typeof text === "object") {
    const form = new Intl.PluralRules(language).select(params.count ?? 0);
    text = text[form] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined || value === null) return whole;
    return typeof value === "number" ? number(value) : String(value);
  });
}

export const number = (value, options = {}) => new Intl.NumberFormat(language, options).format(value);
export const dateTime = (unixSeconds) => new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" })
  .format(new Date(unixSeconds * 1000));
export const list = (items, type = "disjunction") => new Intl.ListFormat(language, { type }).format(items);

// Texts named in the HTML: data-i18n="key" sets the text, data-i18n-aria-label="key" (or
// -placeholder, -title, -alt) sets that attribute.
export function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const attribute of ["aria-label", "placeholder", "title", "alt"]) {
    for (const node of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      node.setAttribute(attribute, t(node.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}
