// Global search (GET /api/search?q=): results with the match highlighted, "更多" for the next page.
import { api, qs } from "/kit/api.js";
import { t } from "/kit/i18n.js";
import { h } from "/kit/dom.js";
import { errorText } from "/kit/ui.js";

// "…【甲镇】人民政府" → text and <mark> nodes (the snippet is plain text, never HTML)
function snippet(s) {
  const out = [];
  const re = /【([^】]*)】/g;
  let last = 0;
  let m;
  while ((m = re.exec(s || ""))) {
    out.push(s.slice(last, m.index), h("mark", {}, m[1]));
    last = re.lastIndex;
  }
  out.push((s || "").slice(last));
  return out;
}

function linkFor(item) {
  const [kind, id] = String(item.ref || "").split(":");
  if (kind === "unit") return "#/contacts" + qs({ unit_id: id });
  if (kind === "user") return "#/contacts" + qs({ q: item.title });
  return null;
}

export default async function render(el, params) {
  const q = (params.q || "").trim();
  const input = h("input", { type: "search", id: "search-q", name: "q", value: q, required: true, maxlength: 200 });
  const form = h("form", { class: "yi-inline-form", role: "search", onsubmit: (e) => {
    e.preventDefault();
    location.hash = "#/search" + qs({ q: input.value.trim() });
  } }, h("label", { for: "search-q" }, t("search.label")), input, h("button", { type: "submit", class: "primary" }, t("shell.search")));
  const status = h("p", { role: "status", class: "yi-summary" });
  const list = h("ul", { class: "yi-list", "data-testid": "search-results" });
  const more = h("button", { type: "button", class: "yi-more", "data-testid": "more", hidden: true }, t("kit.more"));
  el.append(h("h1", {}, t("nav.search")), form, status, list, more);
  if (!q) { input.focus(); return; }
  let next = null;
  let count = 0;
  const load = async (after) => {
    more.disabled = true;
    status.textContent = t("kit.loading");
    try {
      const r = await api.get("/api/search" + qs({ q, limit: 20, after }));
      for (const it of r.items) {
        count++;
        const link = linkFor(it);
        list.append(h("li", { "data-testid": "search-result", "data-ref": it.ref },
          h("span", { class: "yi-badge" }, t("search.kind." + it.kind) !== "search.kind." + it.kind ? t("search.kind." + it.kind) : it.kind), " ",
          h(link ? "a" : "strong", { href: link }, it.title),
          h("div", { class: "yi-snippet" }, snippet(it.snippet))));
      }
      next = r.next;
      more.hidden = next === null || next === undefined;
      status.textContent = count ? t("search.count", { n: count, q }) : t("search.none", { q });
    } catch (e) {
      status.textContent = errorText(e);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => load(next));
  await load(null);
}
