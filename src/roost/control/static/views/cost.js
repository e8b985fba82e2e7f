// Cost: today, this month, the projection; by agent / model / role / day with a chart;
// each budget against its cap. All from the ledger (usage.summary, budgets.list).
import { errorText, h, localMidnight, replace, svg, table, usd } from "../dom.js";

let gw = null;
let root = null;
let by = "agent";

function figure(label, value, id) {
  return h("div", { class: "figure" }, h("div", { class: "label" }, label),
    h("div", { class: "value", id }, value));
}

function chart(groups) {
  const entries = Object.entries(groups);
  if (by !== "day") entries.sort((a, b) => b[1].cost_usd - a[1].cost_usd);
  const shown = entries.slice(0, 31);
  const width = 640;
  const rowHeight = 22;
  const labelWidth = 170;
  const height = Math.max(shown.length, 1) * rowHeight + 8;
  const top = Math.max(...shown.map(([, totals]) => totals.cost_usd), 0) || 1;
  const bars = shown.map(([name, totals], index) => {
    const y = 4 + index * rowHeight;
    const length = Math.max(1, ((width - labelWidth - 80) * totals.cost_usd) / top);
    return svg("g", {},
      svg("text", { x: 0, y: y + 14 }, name.length > 26 ? name.slice(0, 25) + "…" : name),
      svg("rect", { class: "bar-rect", x: labelWidth, y: y + 3, width: length, height: rowHeight - 8 },
        svg("title", {}, `${name}: ${usd(totals.cost_usd)}`)),
      svg("text", { x: labelWidth + length + 6, y: y + 14 }, usd(totals.cost_usd)));
  });
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Cost this month by ${by}` }, bars);
}

function budgetRow(budget) {
  const share = budget.limit_usd ? budget.spent_usd / budget.limit_usd : 0;
  return h("tr", {},
    h("th", { scope: "row" }, budget.scope),
    h("td", {}, budget.period),
    h("td", { class: "num" }, usd(budget.spent_usd)),
    h("td", { class: "num" }, usd(budget.limit_usd)),
    h("td", {}, h("meter", { min: 0, max: 1, low: 0.8, high: 0.99, optimum: 0, value: Math.min(share, 1),
      "aria-label": `${Math.round(share * 100)}% of the cap` }), ` ${Math.round(share * 100)}%`),
    h("td", { class: budget.exhausted ? "state-over" : "" }, budget.state));
}

async function refresh() {
  const [today, month, budgets] = await Promise.all([
    gw.call("usage.summary", { since: localMidnight(), by: "agent" }),
    gw.call("usage.summary", { since: localMidnight(true), by }),
    gw.call("budgets.list"),
  ]);
  const projection = month.projection || {};
  const select = h("select", { id: "cost-by", "aria-label": "Group by" },
    ["agent", "model", "role", "day", "job"].map((key) =>
      h("option", { value: key, selected: key === by }, `by ${key}`)));
  select.addEventListener("change", () => { by = select.value; show(); });
  const rows = Object.entries(month.groups).map(([name, totals]) => h("tr", {},
    h("th", { scope: "row" }, name),
    h("td", { class: "num" }, String(totals.calls)),
    h("td", { class: "num hide-narrow" }, String(totals.input_tokens)),
    h("td", { class: "num hide-narrow" }, String(totals.output_tokens)),
    h("td", { class: "num" }, totals.cost)));
  replace(root, h("h2", {}, "Cost"),
    h("div", { class: "figures" },
      figure("Today", usd(today.total.cost_usd), "cost-today"),
      figure("This month", usd(projection.month_to_date_usd ?? month.total.cost_usd), "cost-month"),
      figure("Projected month", usd(projection.projected_month_usd), "cost-projection")),
    h("div", { class: "row" }, h("h3", {}, "This month"), select),
    Object.keys(month.groups).length ? chart(month.groups) : h("p", { class: "muted" }, "No model calls this month."),
    table([by, h("th", { class: "num", scope: "col" }, "Calls"),
      h("th", { class: "num hide-narrow", scope: "col" }, "In"),
      h("th", { class: "num hide-narrow", scope: "col" }, "Out"),
      h("th", { class: "num", scope: "col" }, "Cost")], rows),
    h("h3", {}, "Budgets"),
    budgets.budgets.length
      ? table(["Scope", "Period", h("th", { class: "num", scope: "col" }, "Spent"),
        h("th", { class: "num", scope: "col" }, "Cap"), "Used", "State"], budgets.budgets.map(budgetRow))
      : h("p", { class: "muted" }, "No budget is configured (budget: and agents.<name>.budget: in the config)."));
}

function show() {
  refresh().catch((error) => replace(root, h("h2", {}, "Cost"), h("p", { class: "error" }, errorText(error))));
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
  },
  show,
};
