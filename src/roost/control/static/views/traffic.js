// Live traffic: messages between agents, channels and jobs, deliveries, turns, approvals,
// as they happen (not stored: what happened before the page opened is not shown).
import { h, replace } from "../dom.js";

const KEEP = 500;
const TOPICS = ["traffic", "agents", "jobs", "approvals"];
const SHOWN = ["traffic.", "turn.", "job.", "approval."];
let gw = null;
let root = null;
let parts = null;
let paused = false;

function describe(event, data) {
  switch (event) {
    case "traffic.message":
      return `${data.from} → ${data.to} [${data.session}]: ${data.text}`;
    case "traffic.delivery":
      return `${data.from || ""} → ${data.to}: ${data.status}${data.error ? ` (${data.error})` : ""}`;
    case "turn.started":
      return `${data.agent} [${data.session}] started (from ${data.from})`;
    case "turn.finished":
      return `${data.agent} [${data.session}] ${data.status}, $${Number(data.cost_usd || 0).toFixed(6)}`;
    case "job.started":
      return `job ${data.job} started on ${data.agent}`;
    case "job.finished":
      return `job ${data.job} ${data.status}, $${Number(data.cost_usd || 0).toFixed(6)}`;
    case "approval.requested":
    case "approval.decided":
      return `${data.agent} ${data.tool}: ${data.summary} (${data.state})`;
    default:
      return JSON.stringify(data);
  }
}

function matches(line) {
  const kind = parts.kind.value;
  const text = parts.filter.value.trim().toLowerCase();
  return (!kind || line.dataset.event.startsWith(kind)) &&
    (!text || line.textContent.toLowerCase().includes(text));
}

function onEvent(data, event) {
  if (paused || !SHOWN.some((prefix) => event.startsWith(prefix))) return;
  const time = new Date().toLocaleTimeString();
  const line = h("li", { "data-event": event },
    h("span", { class: "muted" }, `${time} ${event} `), describe(event, data));
  line.hidden = !matches(line);
  parts.list.prepend(line);
  while (parts.list.childElementCount > KEEP) parts.list.lastElementChild.remove();
}

function applyFilter() {
  for (const line of parts.list.children) line.hidden = !matches(line);
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
    const filter = h("input", { type: "search", id: "traffic-filter", placeholder: "filter text",
      "aria-label": "Filter text", on: { input: applyFilter } });
    const kind = h("select", { id: "traffic-kind", "aria-label": "Kind", on: { change: applyFilter } },
      h("option", { value: "" }, "everything"),
      ["traffic.message", "traffic.delivery", "turn", "job", "approval"].map((k) =>
        h("option", { value: k }, k)));
    const pause = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Pause");
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-pressed", String(paused));
    });
    const list = h("ul", { class: "plain events card", id: "traffic-events", "aria-live": "off" });
    parts = { filter, kind, list };
    const help = h("p", { class: "help" },
      "Messages, deliveries, turns, jobs and approvals appear here as they happen (newest first; " +
      "what happened before this page opened is in each session's history).");
    replace(root, h("h2", {}, "Live traffic"), h("div", { class: "row" }, filter, kind, pause), help, list);
    gw.on("*", onEvent);
    gw.subscribe(...TOPICS).catch(() => {});
  },
  show() {},
};
