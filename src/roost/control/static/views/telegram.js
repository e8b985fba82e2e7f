// Telegram: strangers who asked to talk to the bot (pairing codes), with Approve.
import { errorText, h, replace, when } from "../dom.js";

let gw = null;
let root = null;
let problem = "";

async function approve(code) {
  problem = "";
  try {
    await gw.call("telegram.pairing.approve", { code });
  } catch (error) {
    problem = errorText(error);
  }
  show();
}

async function refresh() {
  let pairings;
  try {
    ({ pairings } = await gw.call("telegram.pairing.list"));
  } catch (error) {
    replace(root, h("h2", {}, "Telegram"), h("p", { class: "muted" },
      error.code === "unknown_method" ? "Telegram is not configured (a telegram: section in the config)."
        : errorText(error)));
    return;
  }
  const items = pairings.map((p) => h("li", { class: "card row", "data-code": p.code },
    h("strong", {}, p.display_code),
    ` user ${p.user_id}`, p.username ? ` @${p.username}` : "",
    h("span", { class: "muted" }, ` · expires ${when(p.expires_at)}`),
    h("button", { type: "button", on: { click: () => approve(p.code) } }, "Approve")));
  replace(root, h("h2", {}, "Telegram pairing requests"), h("p", { class: "error", role: "alert" }, problem),
    items.length ? h("ul", { class: "plain view" }, items)
      : h("p", { class: "muted" }, "No pairing request waits."));
}

function show() {
  refresh().catch((error) => replace(root, h("h2", {}, "Telegram"), h("p", { class: "error" }, errorText(error))));
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
  },
  show,
};
