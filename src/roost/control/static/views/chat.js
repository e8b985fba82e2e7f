// Chat: pick an agent and a session, send, watch the answer stream in with its tool calls;
// the session's history, paged (older messages on demand).
import { errorText, h, replace } from "../dom.js";

const PAGE = 50;
let gw = null;
let root = null;
let parts = null;
let limit = PAGE;
let loaded = ""; // agent + session shown; a tab switch keeps what streams in meanwhile
let historyTicket = 0; // only the latest history asked for is shown
const streams = new Map(); // message_id -> {bubble, text, tools}

function selected() {
  return { agent: parts.agent.value, session: parts.session.value || "main" };
}

function ours(data) {
  const { agent, session } = selected();
  return data.agent === agent && data.session === session;
}

function historyItem(message) {
  const who = message.role === "tool" ? `tool ${message.tool_name || ""}` : message.role;
  const body = [message.text || ""];
  for (const call of message.tool_calls || []) body.push(`\n→ ${call.name}(${call.arguments})`);
  return h("div", { class: `msg ${message.role}` }, h("span", { class: "who" }, who), ...body);
}

function stream(messageId) {
  let entry = streams.get(messageId);
  if (!entry) {
    const text = h("span", { class: "text" });
    const tools = h("div", { class: "tools" });
    const status = h("span", { class: "who" }, "answering…");
    const bubble = h("div", { class: "msg assistant streaming", "data-message": messageId },
      h("span", { class: "who" }, "assistant"), tools, text, status);
    entry = { bubble, text, tools, status, calls: new Map() };
    streams.set(messageId, entry);
    parts.messages.append(bubble);
  }
  return entry;
}

function scrollDown() {
  parts.messages.scrollTop = parts.messages.scrollHeight;
}

function onDelta(data) {
  if (!ours(data)) return;
  stream(data.message_id).text.append(document.createTextNode(data.text));
  scrollDown();
}

function onRestart(data) {
  if (ours(data)) stream(data.message_id).text.replaceChildren();
}

function onTool(data) {
  if (!ours(data)) return;
  const entry = stream(data.message_id);
  let line = entry.calls.get(data.call_id);
  if (!line) {
    line = h("div", { class: "tool-line" });
    entry.calls.set(data.call_id, line);
    entry.tools.append(line);
  }
  const state = data.phase === "started" ? "running…" : data.is_error ? "failed" : "done";
  replace(line, `⚙ ${data.tool} · ${state} · ${data.summary}`);
  scrollDown();
}

function onEnd(data) {
  if (!ours(data)) return;
  const entry = stream(data.message_id);
  entry.bubble.classList.remove("streaming");
  if (data.status !== "ok" || !entry.text.textContent) entry.text.textContent = data.text || "";
  const cost = typeof data.cost_usd === "number" ? ` · $${data.cost_usd.toFixed(6)}` : "";
  entry.status.textContent = `${data.status}${cost}`;
  entry.bubble.dataset.status = data.status;
}

async function loadAgents() {
  const { agents } = await gw.call("agents.list");
  const before = parts.agent.value; // read after the wait: a choice made meanwhile stays
  replace(parts.agent, agents.map((a) => h("option", { value: a.name }, a.name)));
  if (agents.some((a) => a.name === before)) parts.agent.value = before;
}

async function loadSessions() {
  const { agent } = selected();
  if (!agent) return;
  const { sessions } = await gw.call("sessions.list", { agent });
  // Only the suggestions change: what is typed in the field (maybe meanwhile) stays.
  const keys = new Set(["main", ...sessions.map((s) => s.key)]);
  replace(parts.sessions, [...keys].map((key) => h("option", { value: key })));
}

async function loadHistory() {
  const { agent, session } = selected();
  if (!agent) return;
  streams.clear();
  loaded = `${agent}\n${session}`;
  const ticket = ++historyTicket;
  gw.subscribe(`session:${agent}:${session}`).catch(() => {});
  try {
    const { messages } = await gw.call("sessions.history", { agent, session, limit });
    if (ticket !== historyTicket) return; // another session was picked meanwhile
    parts.older.hidden = messages.length < limit || limit >= 1000;
    replace(parts.messages, messages.map(historyItem));
  } catch (error) {
    if (ticket !== historyTicket) return;
    parts.older.hidden = true;
    replace(parts.messages, h("p", { class: "muted" },
      error.code === "not_found" ? "No messages in this session yet." : errorText(error)));
  }
  scrollDown();
}

async function send(event) {
  event.preventDefault();
  if (parts.send.disabled) return; // Enter again while the last message is on its way
  const text = parts.text.value.trim();
  if (!text) return;
  const { agent, session } = selected();
  parts.problem.textContent = "";
  parts.send.disabled = true;
  let mine = h("span");
  try {
    if (parts.messages.querySelector("p.muted")) parts.messages.replaceChildren();
    // Shown before the answer's first event, which may come before chat.send's own answer.
    mine = h("div", { class: "msg user" }, h("span", { class: "who" }, "you"), text);
    parts.messages.append(mine);
    const { message_id: id } = await gw.call("chat.send", { agent, session, text });
    parts.text.value = "";
    stream(id);
    scrollDown();
  } catch (error) {
    mine.remove();
    parts.problem.textContent = errorText(error);
  } finally {
    parts.send.disabled = false;
  }
}

function build() {
  const agent = h("select", { id: "chat-agent", "aria-label": "Agent" });
  const session = h("input", { id: "chat-session", list: "chat-sessions", value: "main",
    "aria-label": "Session", size: 12, spellcheck: "false" });
  const sessions = h("datalist", { id: "chat-sessions" });
  const older = h("button", { type: "button", class: "secondary", hidden: true }, "Load older messages");
  const messages = h("div", { class: "messages", id: "chat-messages", "aria-live": "polite" });
  const text = h("textarea", { id: "chat-text", "aria-label": "Message", placeholder: "Message (Enter sends, Shift+Enter: new line)" });
  const sendButton = h("button", { type: "submit", id: "chat-send" }, "Send");
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "compose", on: { submit: send } }, text, sendButton);
  parts = { agent, session, sessions, older, messages, text, send: sendButton, problem };
  agent.addEventListener("change", () => { limit = PAGE; loadSessions().then(loadHistory); });
  session.addEventListener("change", () => { limit = PAGE; loadHistory(); });
  older.addEventListener("click", () => { limit = Math.min(limit + PAGE * 2, 1000); loadHistory(); });
  text.addEventListener("keydown", (event) => {
    // Enter sends (Ctrl/Cmd+Enter too), Shift+Enter is a new line. Not while an input
    // method composes (Japanese, Chinese…): there Enter picks the characters
    // (keyCode 229: Safari's way of saying so).
    if (event.key !== "Enter" || event.shiftKey) return;
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    form.requestSubmit();
  });
  replace(root, h("h2", {}, "Chat"),
    h("div", { class: "row" }, h("label", { for: "chat-agent" }, "Agent"), agent,
      h("label", { for: "chat-session" }, "Session"), session, sessions),
    older, messages, form, problem);
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
    streams.clear();
    loaded = "";
    build();
    gw.on("chat.delta", onDelta);
    gw.on("chat.restart", onRestart);
    gw.on("chat.tool", onTool);
    gw.on("chat.reply", onEnd);
    gw.on("chat.error", onEnd);
  },
  async show() {
    try {
      await loadAgents();
      await loadSessions();
      const { agent, session } = selected();
      if (loaded !== `${agent}\n${session}`) await loadHistory();
    } catch (error) {
      parts.problem.textContent = errorText(error);
    }
  },
};
