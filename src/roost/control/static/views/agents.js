// Agents: model(s), tools, state (idle / in a turn / over budget), today's spend.
import { errorText, h, localMidnight, replace, table, usd } from "../dom.js";

let gw = null;
let root = null;
let pending = null;

function overBudget(name, budgets) {
  return budgets.some((b) => b.exhausted && b.on_exceed === "stop" &&
    (b.scope === `agent ${name}` || b.scope === "all agents"));
}

function stateOf(agent, budgets) {
  if (overBudget(agent.name, budgets)) return ["over budget", "state-over"];
  if (agent.busy_sessions > 0) return ["in a turn", "state-busy"];
  return ["idle", "state-idle"];
}

async function refresh() {
  const [list, usage, budgets] = await Promise.all([
    gw.call("agents.list"),
    gw.call("usage.summary", { since: localMidnight(), by: "agent" }),
    gw.call("budgets.list"),
  ]);
  const spend = usage.by_agent || {};
  const rows = list.agents.map((agent) => {
    const [state, css] = stateOf(agent, budgets.budgets);
    const models = [agent.model, ...(agent.fallbacks || [])].join(", ");
    return h("tr", { "data-agent": agent.name },
      h("th", { scope: "row" }, agent.name),
      h("td", {}, models),
      h("td", { class: "hide-narrow" }, agent.tools.join(", ") || "–"),
      h("td", { class: css }, state, agent.queued ? ` (${agent.queued} queued)` : ""),
      h("td", { class: "num" }, usd(spend[agent.name] ? spend[agent.name].cost_usd : 0)));
  });
  replace(root, h("h2", {}, "Agents"),
    table(["Agent", "Model(s)", h("th", { class: "hide-narrow", scope: "col" }, "Tools"), "State",
      h("th", { class: "num", scope: "col" }, "Today")], rows));
}

function schedule() {
  // Turns start and end in bursts: one refresh for a burst, not one per event.
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    if (!root.hidden) show();
  }, 300);
}

function show() {
  refresh().catch((error) => replace(root, h("p", { class: "error" }, errorText(error))));
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
    gw.on("turn.started", schedule);
    gw.on("turn.finished", schedule);
    gw.subscribe("agents").catch(() => {});
  },
  show,
};
