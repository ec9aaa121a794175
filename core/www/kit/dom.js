// h("button", {type: "button", onclick: fn, class: "x", dataset: {id: 1}}, "text", child…) → element.
// Attributes named on* with a function become listeners; true → empty attribute; null/false/undefined skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else if (k === "value" && "value" in el) el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

let seq = 0;
export function uid(prefix = "yi") { return `${prefix}-${++seq}`; }

// Only "#/…" and "/…" (same site) links are followed; anything else becomes "#/".
export function safeLink(link) {
  if (typeof link !== "string") return null;
  if (link.startsWith("#/")) return link;
  if (link.startsWith("/") && !link.startsWith("//") && !link.startsWith("/\\")) return link;
  return null;
}
