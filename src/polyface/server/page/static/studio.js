// The avatar studio page: plain JavaScript over the REST API (/api). No framework, no build step.
"use strict";

const state = { persona: null, plan: null, feed: null, conversation: null };

const $ = (id) => document.getElementById(id);

function element(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function say(id, text, isError) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
  node.setAttribute("role", isError ? "alert" : "status");
}

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};  // the error's other fields (an upload's per-file report...)
  }
}

// fetch + JSON, throwing ApiError with the server's message ({"error": {"code", "message"}}).
async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(0, "network", "the server could not be reached (" + err.message + "); try again.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_error",
      error.message || "the server answered " + response.status + ".", error);
  }
  return data;
}

// Runs an action, showing its error (or a thrown message) in the section's status line.
async function guarded(statusId, action) {
  try {
    await action();
  } catch (err) {
    say(statusId, err.code ? err.message + " (" + err.code + ")" : err.message, true);
  }
}

function personaPath(suffix) {
  if (!state.persona) throw new Error("Create or open a persona first (section 1).");
  return "/api/personas/" + encodeURIComponent(state.persona) + suffix;
}

// ---- 1. persona ---------------------------------------------------------------------------------

async function choosePersona(name) {
  state.persona = name;
  state.conversation = null;
  $("current").textContent = "Working on persona: " + name;
  const pick = $("persona-pick");
  if (![...pick.options].some((o) => o.value === name)) {
    if (pick.options.length === 1 && pick.options[0].value === "") pick.remove(0);
    pick.append(element("option", name, { value: name }));
  }
  pick.value = name;
  await Promise.all([loadConsents(), loadAvatar(), loadFinishedRuns()]);
}

$("persona-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("persona-status", async () => {
    const body = { name: $("persona-name").value.trim(), description: $("persona-description").value.trim() };
    const created = await api("POST", "/api/personas", body);
    say("persona-status", "Created persona " + created.name + ".");
    await choosePersona(created.name);
  });
});

$("open-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("persona-status", async () => {
    const name = $("persona-pick").value;
    if (!name) throw new Error("There is no persona yet: create one above.");
    const info = await api("GET", "/api/personas/" + encodeURIComponent(name));
    const counts = Object.entries(info.samples || {}).map(([k, v]) => v + " " + k).join(", ");
    say("persona-status", "Opened " + info.name + " (samples: " + (counts || "none") + ").");
    await choosePersona(info.name);
  });
});

// ---- 2. samples ---------------------------------------------------------------------------------

function showReport(report) {
  const table = $("upload-results");
  const body = table.tBodies[0];
  const row = (file, result, details) => {
    const tr = element("tr", null, { "data-result": result });
    tr.append(element("td", file), element("td", result), element("td", details));
    body.append(tr);
  };
  for (const sample of report.added) {
    const seconds = sample.duration ? ", " + Number(sample.duration).toFixed(1) + " s" : "";
    row(sample.source, "added", "sample " + sample.id + seconds);
  }
  for (const source of report.duplicates) row(source, "duplicate", "already stored for this persona");
  for (const problem of report.rejected) row(problem.source, "rejected", problem.reason);
  table.hidden = false;
}

async function uploadFiles(files) {
  await guarded("samples-status", async () => {
    if (!files.length) return;
    const path = personaPath("/samples/" + $("sample-kind").value);
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    say("samples-status", "Checking " + files.length + " file(s)...");
    let report;
    try {
      report = await api("POST", path, form);
    } catch (err) {
      // every file refused: a 422 holding the same per-file report as a partial success
      if (!(err instanceof ApiError) || err.code !== "samples_rejected") throw err;
      report = err.details;
    }
    showReport(report);
    say("samples-status", report.summary, !report.ok);
  });
}

const dropZone = $("drop-zone");
for (const name of ["dragenter", "dragover"]) {
  dropZone.addEventListener(name, (event) => {
    event.preventDefault();
    dropZone.classList.add("over");
  });
}
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  uploadFiles([...event.dataTransfer.files]);
});
$("sample-files").addEventListener("change", async (event) => {
  const input = event.target;
  await uploadFiles([...input.files]);
  input.value = "";
});

// ---- 3. consent ---------------------------------------------------------------------------------

async function loadConsents() {
  const list = $("consent-list");
  list.replaceChildren();
  const consents = await api("GET", personaPath("/consents"));
  for (const c of consents) {
    list.append(element("li", c.subject + " consents to " + c.uses.join(", ") +
      (c.evidence_url ? " (evidence kept)" : "")));
  }
}

$("consent-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("consent-status", async () => {
    const path = personaPath("/consents");
    const fields = new FormData(event.target);
    const form = new FormData();
    form.append("subject", String(fields.get("subject")).trim());
    const uses = fields.getAll("uses");
    if (!uses.length) throw new Error("Tick at least one use (voice, image or video).");
    form.append("uses", uses.join(","));
    const evidence = $("consent-evidence").files[0];
    if (evidence) form.append("evidence", evidence, evidence.name);
    const consent = await api("POST", path, form);
    say("consent-status", "Recorded: " + consent.subject + " consents to " + consent.uses.join(", ") + ".");
    await loadConsents();
  });
});

// ---- 4. plan and train ----------------------------------------------------------------------------

function money(value) {
  return value === null || value === undefined ? "priced by the provider" : "$" + Number(value).toFixed(2);
}

$("plan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("plan-status", async () => {
    const path = personaPath("/plan");
    const choices = {};
    for (const select of event.target.querySelectorAll("select")) {
      if (select.value) choices[select.name] = select.value;
    }
    if (!Object.keys(choices).length) throw new Error("Choose a provider for at least one modality.");
    state.plan = null;
    $("train-button").disabled = true;
    const plan = await api("POST", path, choices);
    const body = $("plan-table").tBodies[0];
    body.replaceChildren();
    for (const item of plan.items) {
      const tr = element("tr", null, { "data-modality": item.modality });
      tr.append(element("td", item.modality), element("td", item.provider), element("td", item.base_model),
        element("td", item.samples), element("td", money(item.estimated_cost_usd)), element("td", item.note));
      body.append(tr);
    }
    $("plan-total").textContent = money(plan.total_usd);
    $("plan-table").hidden = false;
    state.plan = plan;
    $("train-button").disabled = false;
    say("plan-status", "Plan ready: " + plan.modalities.join(", ") + ", estimated " + money(plan.total_usd) + ".");
  });
});

function progressItem(run) {
  let item = document.querySelector('#progress-list li[data-run="' + CSS.escape(run.id) + '"]');
  if (!item) {
    item = element("li", null, { "data-run": run.id, "data-modality": run.modality });
    const label = element("label", run.modality + " on " + run.provider, { for: "progress-" + run.id });
    const bar = element("progress", null, { id: "progress-" + run.id, max: "1" });
    item.append(label, " ", bar, " ", element("span", "", { class: "run-status" }));
    $("progress-list").append(item);
  }
  return item;
}

function showRun(run) {
  const item = progressItem(run);
  const bar = item.querySelector("progress");
  if (typeof run.progress === "number") bar.value = run.progress;
  else bar.removeAttribute("value");
  item.dataset.status = run.status;
  let text = run.status;
  if (typeof run.progress === "number") text += " (" + Math.round(run.progress * 100) + "%)";
  if (run.result_model) text += ": " + run.result_model;
  if (run.error) text += ": " + run.error;
  item.querySelector(".run-status").textContent = text;
}

function follow(runIds) {
  if (state.feed) state.feed.close();
  const query = new URLSearchParams({ persona: state.persona, ids: runIds.join(",") });
  const feed = new EventSource("/api/runs/events?" + query.toString());
  state.feed = feed;
  feed.addEventListener("run", (event) => showRun(JSON.parse(event.data)));
  feed.addEventListener("done", (event) => {
    feed.close();
    const done = JSON.parse(event.data);
    const statuses = Object.values(done.statuses);
    const ok = statuses.every((s) => s === "succeeded");
    say("train-status", "Training finished: " + statuses.join(", ") + ".", !ok);
    $("train-status").dataset.done = "true";
    guarded("avatar-status", loadFinishedRuns);
  });
  feed.addEventListener("stalled", (event) => {
    feed.close();
    say("train-status", JSON.parse(event.data).message, true);
  });
  feed.addEventListener("error", () => {
    if (feed.readyState === EventSource.CLOSED) say("train-status", "The progress feed closed; reload the page.", true);
  });
}

$("train-button").addEventListener("click", () => {
  guarded("train-status", async () => {
    const path = personaPath("/train");
    if (!state.plan) throw new Error("Show a plan first.");
    const budget = $("budget").value;
    const body = { plan: state.plan, budget_usd: budget === "" ? null : Number(budget) };
    delete $("train-status").dataset.done;
    const started = await api("POST", path, body);
    $("progress-list").replaceChildren();
    started.runs.forEach(showRun);
    say("train-status", "Training " + started.runs.length + " modality(ies)...");
    follow(started.runs.map((r) => r.id));
  });
});

// ---- 5. avatar -------------------------------------------------------------------------------------

async function loadFinishedRuns() {
  const holder = $("avatar-runs");
  const runs = await api("GET", "/api/runs?" + new URLSearchParams({ persona: state.persona, status: "succeeded" }));
  holder.replaceChildren();
  if (!runs.length) {
    holder.append(element("p", "No finished runs yet."));
    return;
  }
  for (const run of runs) {
    const box = element("input", null, { type: "checkbox", name: "runs", value: run.id, checked: "" });
    const label = element("label");
    label.append(box, " " + run.modality + ": " + run.result_model + " (" + run.provider + ")");
    holder.append(label);
  }
}

function showAvatar(version) {
  const list = $("avatar-models");
  list.replaceChildren();
  if (!version) return;
  for (const [modality, ref] of Object.entries(version.models)) {
    list.append(element("dt", modality), element("dd", ref.provider + ":" + ref.model));
  }
}

async function loadAvatar() {
  const info = await api("GET", personaPath(""));
  showAvatar(info.avatar);
  if (info.avatar) say("avatar-status", "Active avatar: version " + info.avatar.version + ".");
  else say("avatar-status", "No avatar yet.");
}

$("avatar-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("avatar-status", async () => {
    const path = personaPath("/avatars");
    const runs = [...event.target.querySelectorAll('input[name="runs"]:checked')].map((b) => b.value);
    const models = {};
    for (const input of event.target.querySelectorAll('input[id^="model-"]')) {
      if (input.value.trim()) models[input.name] = input.value.trim();
    }
    if (!runs.length && !Object.keys(models).length) {
      throw new Error("Tick a finished run or fill in a model (provider:model).");
    }
    let version = null;
    if (runs.length) version = await api("POST", path, { runs, note: "set from the studio page" });
    if (Object.keys(models).length) version = await api("POST", path, { models, note: "set from the studio page" });
    showAvatar(version);
    say("avatar-status", "Active avatar: version " + version.version + ".");
  });
});

// ---- 6. talk ----------------------------------------------------------------------------------------

function showMedia(kind, output) {
  const figure = $("answer-" + kind + "-figure");
  const media = $("answer-" + kind);
  if (!output) {
    figure.hidden = true;
    media.removeAttribute("src");
    return;
  }
  media.src = output.url;
  media.dataset.mimeType = output.mime_type;
  figure.hidden = false;
  if (typeof media.load === "function") media.load();
}

$("talk-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded("talk-status", async () => {
    const path = personaPath("/respond");
    const outputs = [...event.target.querySelectorAll('input[name="out"]:checked')].map((b) => b.value);
    const body = { input: $("question").value, output_modalities: ["text", ...outputs] };
    const maxTokens = $("max-tokens").value;
    if (maxTokens) body.max_tokens = Number(maxTokens);
    if (state.conversation !== null) body.conversation = state.conversation;
    say("talk-status", "Thinking...");
    const answer = await api("POST", path, body);
    state.conversation = answer.conversation_id;
    $("answer-text").textContent = answer.text;
    for (const kind of ["voice", "video", "image"]) showMedia(kind, answer.outputs[kind]);
    say("talk-status", "Answered (avatar version " + answer.avatar_version + ").");
  });
});

// Open the persona the select shows, if any, so a reload picks up where one left off.
document.addEventListener("DOMContentLoaded", () => {
  const first = $("persona-pick").value;
  if (first) guarded("persona-status", () => choosePersona(first));
});
