// Jobs: schedule, next run, last runs with status, cost and per-target delivery state;
// pause, resume, run now.
import { errorText, h, replace, table, usd, when } from "../dom.js";

let gw = null;
let root = null;
let open = null; // the job whose runs are shown
let problem = "";

async function act(method, name) {
  problem = "";
  try {
    await gw.call(method, { name });
    if (method === "jobs.run") open = name;
  } catch (error) {
    problem = errorText(error);
  }
  show();
}

function deliveries(run) {
  if (!run.deliveries.length) return "–";
  return h("ul", { class: "plain" }, run.deliveries.map((d) =>
    h("li", { class: `status-${d.status}` }, `${d.target}: ${d.status}`,
      d.last_error && d.status !== "delivered" ? ` (${d.last_error})` : "")));
}

async function runsOf(name) {
  const { runs } = await gw.call("jobs.runs", { name, limit: 10 });
  const rows = runs.map((run) => h("tr", { "data-run": run.id },
    h("td", {}, when(run.scheduled_for)),
    h("td", { class: `status-${run.status}` }, run.status, run.error ? ` (${run.error})` : ""),
    h("td", { class: "num" }, usd(run.cost_usd)),
    h("td", {}, deliveries(run))));
  return h("div", { class: "card", id: "job-runs" }, h("h3", {}, `Last runs of ${name}`),
    runs.length ? table(["Scheduled", "Status", h("th", { class: "num", scope: "col" }, "Cost"), "Deliveries"], rows)
      : h("p", { class: "muted" }, "It has not run yet."));
}

function jobRow(job) {
  const button = (label, method, extra = "secondary") =>
    h("button", { type: "button", class: extra, on: { click: () => act(method, job.name) } }, label);
  return h("tr", { "data-job": job.name },
    h("th", { scope: "row" }, job.name),
    h("td", { class: "hide-narrow" }, job.agent),
    h("td", {}, job.schedule),
    h("td", {}, job.state),
    h("td", {}, when(job.next_due)),
    h("td", { class: `status-${job.last_status || ""}` }, job.last_status || "–"),
    h("td", {}, h("div", { class: "row" },
      job.state === "paused" ? button("Resume", "jobs.resume") : button("Pause", "jobs.pause"),
      button("Run now", "jobs.run", ""),
      h("button", { type: "button", class: "secondary",
        on: { click: () => { open = job.name; show(); } } }, "Runs"))));
}

async function refresh() {
  let jobs;
  try {
    ({ jobs } = await gw.call("jobs.list"));
  } catch (error) {
    replace(root, h("h2", {}, "Jobs"), h("p", { class: "muted" },
      error.code === "unknown_method" ? "The scheduler is not running." : errorText(error)));
    return;
  }
  const runs = open && jobs.some((j) => j.name === open) ? await runsOf(open) : "";
  replace(root, h("h2", {}, "Jobs"), h("p", { class: "error", role: "alert" }, problem),
    jobs.length ? table(["Job", h("th", { class: "hide-narrow", scope: "col" }, "Agent"), "Schedule",
      "State", "Next run", "Last", ""], jobs.map(jobRow))
      : h("p", { class: "muted" }, "No jobs (schedules: in the config, `roost jobs add`, or an agent's schedule_job)."),
    runs);
}

function show() {
  refresh().catch((error) => replace(root, h("h2", {}, "Jobs"), h("p", { class: "error" }, errorText(error))));
}

let pending = null;
function schedule() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; if (!root.hidden) show(); }, 300);
}

export default {
  mount(element, gateway) {
    root = element;
    gw = gateway;
    open = null;
    gw.on("job.started", schedule);
    gw.on("job.finished", schedule);
    gw.subscribe("jobs").catch(() => {});
  },
  show,
};
