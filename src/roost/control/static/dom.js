// Building the page from server data. Everything the server sends is untrusted (agent
// output above all): text goes in as text nodes, never as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === "class") {
      element.setAttribute("class", value);
    } else if (name in element && typeof value !== "string" && !(element instanceof SVGElement)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** h("td", {class: "num"}, "text", otherNode) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(element, ...children) {
  element.replaceChildren();
  return build(element, {}, children);
}

export function usd(value) {
  if (typeof value !== "number") return "–";
  return value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function table(headers, rows) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, headers.map((head) =>
        typeof head === "string" ? h("th", { scope: "col" }, head) : head))),
      h("tbody", {}, rows)));
}

export function localMidnight(monthStart = false) {
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  if (monthStart) day.setDate(1);
  return day.toISOString();
}

export function errorText(error) {
  return error && error.message ? error.message : String(error);
}
