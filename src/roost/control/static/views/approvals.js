// Approvals: shell/MCP commands waiting for the owner, with Approve / Deny / Always.
import { errorText, h, replace, when } from "../dom.js";

let gw = null;
let root = null;
let problem = "";

function count(n) {
  document.getElementById("approvals-count").textContent = n ? String(n) : "";
}

function item(approval) {
  const decide = (decision) => async (event) => {
    event.target.disabled = true;
    try {
      await gw.call("approvals.decide", { id: approval.id, decision });
    } catch (error) {
      problem = errorText(error);
    }
    refresh();
  };
  return h("li", { class: "card approval", "data-approval": approval.id },
    h("div", {}, h("strong", {}, approval.agent), ` wants to run ${approval.tool}`,
      h("span", { class: "muted" }, ` · session ${approval.session} · ${when(approval.requested_at)}`)),
    h("code", {}, approval.summary),
    h("div", { class: "row" },
      h("button", { type: "button", on: { click: decide("approve") } }, "Approve"),
      h("button", { type: "button", class: "danger", on: { click: decide("deny") } }, "Deny"),
      h("button", { type: "button", class: "secondary", on: { click: decide("always") },
        title: `Always allow: ${approval.pattern}` }, "Always")));
}

async function refresh() {
  try {
    const { approvals } = await gw.call("approvals.list");
    const shown = problem; // said once, then cleared
    problem = "";
    count(approvals.length);
    replace(root, h("h2", {}, "Approvals"), h("p", { class: "error", role: "alert" }, shown),
      approvals.length ? h("ul", { class: "plain view" }, approvals.map(item))
        : h("p", { class: "muted" }, "Nothing waits for a decision."));
  } catch (error) {
    replace(root, h("h2", {}, "Approvals"), h("p", { class: "error" }, errorText(error)));
  }
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
    gw.on("approval.requested", refresh);
    gw.on("approval.decided", refresh);
    gw.subscribe("approvals").then(refresh, () => {});
  },
  show: refresh,
};
