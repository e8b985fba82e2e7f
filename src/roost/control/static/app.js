// Sign-in, the tabs, and handing the connection to each view.
import { Gateway } from "./rpc.js";
import agents from "./views/agents.js";
import approvals from "./views/approvals.js";
import chat from "./views/chat.js";
import cost from "./views/cost.js";
import jobs from "./views/jobs.js";
import telegram from "./views/telegram.js";
import traffic from "./views/traffic.js";

// sessionStorage, not localStorage: the token lives as long as this tab, is not shared
// with other tabs or kept on disk after the browser closes (docs/control.md).
const TOKEN_KEY = "roost.token";
const VIEWS = { agents, chat, traffic, approvals, cost, jobs, telegram };
const $ = (id) => document.getElementById(id);

let gateway = null;
let current = null;

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token !== null) {
    // Out of the address bar and the history at once; it never went to the server.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return token;
}

function showSignIn(message) {
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  setStatus("", "");
  $("token").focus();
}

function setStatus(state, text) {
  $("conn").dataset.state = state;
  $("conn").textContent = text;
}

async function signIn(token) {
  // Another sign-in (a `#token=` link opened in this tab) replaces the connection.
  if (gateway) gateway.close();
  gateway = null;
  current = null;
  $("sign-in-error").textContent = "";
  setStatus("connecting", "signing in…");
  const candidate = new Gateway(token);
  try {
    await candidate.connect();
  } catch (error) {
    // A remembered token the gateway no longer takes (it was changed) is forgotten.
    if (error.code === "4401") sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(error.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  gateway = candidate;
  gateway.onStatus = (status) => {
    if (status !== "connected") {
      // Views stay as they were; what they ask meanwhile fails with "not connected".
      setStatus(status, "disconnected · reconnecting…");
      return;
    }
    setStatus(status, `connected · Roost ${candidate.hello.version}`);
    // Back after a drop: the view shows what happened meanwhile.
    if (current) VIEWS[current].show();
  };
  gateway.onRefused = (message) => signOut(message);
  gateway.onStatus("connected");
  $("token").value = "";
  $("sign-in").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  for (const [name, view] of Object.entries(VIEWS)) view.mount($(`view-${name}`), gateway);
  select(location.hash.startsWith("#view=") ? location.hash.slice(6) : "agents");
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (gateway) gateway.close();
  gateway = null;
  current = null;
  showSignIn(message || "Signed out.");
}

function select(name) {
  if (!Object.hasOwn(VIEWS, name)) name = "agents";
  current = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const chosen = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(chosen));
    tab.tabIndex = chosen ? 0 : -1;
    $(`view-${tab.dataset.view}`).hidden = !chosen;
  }
  VIEWS[name].show();
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (!step) return;
  const next = tabs[(at + step + tabs.length) % tabs.length];
  next.focus();
  select(next.dataset.view);
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut());
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => select(tab.dataset.view));
  }
  document.querySelector(".tabs").addEventListener("keydown", onTabKey);
  // A `#token=` link opened in this tab while the page is open changes only the
  // fragment (no reload): it signs in as at load.
  window.addEventListener("hashchange", () => {
    const token = tokenFromFragment();
    if (token) signIn(token);
  });
  const token = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
  else showSignIn();
});
