// The curator view: recent searches, newest first, with the visitor's photo, the first result and
// its numbers (matching points, score, similarity: what the visitors' page puts in words), and
// what the visitor answered. The API wants the curator password, kept for this tab only.

import { $, api, el, showError, showStatus, startPage, verdictOf } from "./common.js";
import { dateTime, number, t } from "./i18n.js";

const KEY = "platemark.curator";
const PAGE_SIZE = 25;
let offset = 0;

function token() {
  return sessionStorage.getItem(KEY) || "";
}

async function load() {
  showStatus(t("curator.loading"), true);
  let page;
  try {
    page = await api(`api/curator/searches?offset=${offset}&limit=${PAGE_SIZE}`, {
      headers: { Authorization: `Bearer ${token()}` },
    });
  } catch (error) {
    $("#searches").hidden = true;
    return showError(error.message);
  }
  $("#login").hidden = true;
  $("#searches").hidden = false;
  $("#searches tbody").replaceChildren(...page.data.map(row));
  const answered = page.data.filter((search) => search.answers.length).length;
  showStatus(t("curator.count", { count: page.count, answered }));
  $("#newer").disabled = offset === 0;
  $("#older").disabled = offset + page.data.length >= page.count;
}

function row(search) {
  const tr = el("tr");
  const when = el("td");
  const link = el("a", dateTime(search.searched_at));
  link.href = `./#search=${encodeURIComponent(search.search_id)}`;
  when.append(link);
  const photo = el("td");
  const img = el("img", "", "batch-thumb");
  Object.assign(img, { src: search.query_url, alt: t("detail.your_photo"), loading: "lazy" });
  photo.append(img);
  const best = el("td");
  const numbers = el("td");
  if (search.best) {
    const { record } = search.best;
    best.append(el("span", t(`verdict.${verdictOf(search.best)}`), "badge"),
      el("span", `${record.metadata.title || record.record_id} (${record.collection} · ${record.record_id})`));
    numbers.textContent = [number(search.best.inliers), number(search.best.score, { maximumFractionDigits: 1 }),
      number(search.best.similarity, { maximumFractionDigits: 3 })].join(" · ");
  }
  const answers = el("td");
  for (const answer of search.answers) {
    const about = answer.record_id ? ` — ${answer.record_id}` : "";
    answers.append(el("p", `${t(`curator.answer_${answer.answer}`)}${about}`, `answer ${answer.answer}`));
  }
  if (!search.answers.length) answers.textContent = "–";
  tr.append(when, photo, best, numbers, answers);
  return tr;
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("#token").value);
  load();
});
$("#newer").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
$("#older").addEventListener("click", () => { offset += PAGE_SIZE; load(); });

await startPage("curator");
if (token()) load();
else showStatus(t("curator.ask_password"));
