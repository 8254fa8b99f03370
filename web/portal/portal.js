// The contractor portal page: the gateway's public API used as a portal uses it. The session lives in
// the HttpOnly cookies the sign-in sets; every write sends the CSRF token the gateway issued for the
// session and an Idempotency-Key, so a retried click is one write. Values from the API are put on the
// page as text only (textContent), never as markup.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const state = { csrf: null, events: null, refreshTimer: null };

// MARK: calling the API

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    // REST: {"error": "…"}; tRPC: {"error": {"message": "…"}} (or superjson's {"error": {"json": {…}}}).
    const error = body && body.error;
    if (typeof error === "string") message = error;
    else if (error && typeof error.message === "string") message = error.message;
    else if (error && error.json && typeof error.json.message === "string") message = error.json.message;
  } catch (_) { /* not JSON: keep the status line */ }
  return new APIError(response.status, message);
}

async function csrfToken(fresh = false) {
  if (state.csrf && !fresh) return state.csrf;
  const response = await fetch("/api/security/csrf-token", { credentials: "same-origin" });
  if (!response.ok) throw await errorOf(response);
  state.csrf = (await response.json()).csrfToken;
  return state.csrf;
}

// One call: on a 401 the refresh cookie is spent once for a new session and the call made again; on a
// 403 the CSRF token is fetched anew once (it is bound to the session, which a refresh replaces).
async function api(method, path, { json, form, key } = {}, retried = {}) {
  const headers = {};
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;  // the browser writes the multipart boundary itself
  // Signing in has no session yet, so no CSRF token: the gateway checks its Origin instead.
  if (method !== "GET" && path !== "/api/auth/login") {
    headers["X-CSRF-Token"] = await csrfToken();
    if (key) headers["Idempotency-Key"] = key;
  }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (response.status === 401 && !retried.refresh && path !== "/api/auth/refresh") {
    const refreshed = await fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" });
    if (refreshed.ok) { state.csrf = null; return api(method, path, { json, form, key }, { ...retried, refresh: true }); }
    throw await errorOf(response);
  }
  if (response.status === 403 && method !== "GET" && !retried.csrf) {
    await csrfToken(true);
    return api(method, path, { json, form, key }, { ...retried, csrf: true });
  }
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

// A tRPC query as httpLink sends it: GET /api/trpc/<procedure>; the answer is {"result": {"data": …}}.
async function trpcQuery(procedure) {
  const answer = await api("GET", "/api/trpc/" + procedure);
  const data = answer.result.data;
  return data && typeof data === "object" && "json" in data && Object.keys(data).every((k) => k === "json" || k === "meta") ? data.json : data;
}

// MARK: the page

// `aria-busy` on <main> while anything is loading or about to reload: assistive technology waits for the
// page to settle, and so can anything else that reads it (the gateway's browser test does).
let loading = 0;
function busy(delta) {
  loading += delta;
  document.querySelector("main").setAttribute("aria-busy", loading > 0 ? "true" : "false");
}

async function whileBusy(work) {
  busy(1);
  try { return await work(); } finally { busy(-1); }
}

function notice(text, isError = false) {
  const element = $("#notice");
  element.textContent = text;
  element.classList.toggle("error", isError);
  element.hidden = false;
}

function money(value) {
  return value === null || value === undefined ? "—" : "£" + Number(value).toFixed(2);
}

function day(value) {
  return value ? value.slice(0, 10) : "—";
}

function show(signedIn) {
  $("#signin-view").hidden = signedIn;
  $("#portal-view").hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  $("#who").hidden = !signedIn;
}

async function start() {
  $("#signin").addEventListener("submit", (event) => whileBusy(() => signIn(event)));
  $("#signout").addEventListener("click", () => whileBusy(signOut));
  busy(0);
  await whileBusy(async () => {
    try {
      const me = await api("GET", "/api/auth/me");
      await enter(me.contractorId, me.agency);
    } catch (_) {
      show(false);
    }
  });
}

async function signIn(event) {
  event.preventDefault();
  const button = $("#signin-button");
  button.disabled = true;
  try {
    const answer = await api("POST", "/api/auth/login", { json: { email: $("#email").value, password: $("#password").value } });
    $("#password").value = "";
    $("#notice").hidden = true;
    await enter(answer.user.contractorId, answer.user.agency);
  } catch (error) {
    notice(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  if (state.events) state.events.close();
  await api("POST", "/api/auth/logout").catch(() => {});
  state.csrf = null;
  show(false);
  notice("Signed out.");
}

async function enter(contractorId, agency) {
  show(true);
  $("#who").textContent = `${contractorId} · ${agency}`;
  const account = await api("GET", "/api/contractor/account").catch(() => null);
  const name = account && (account.companyName || account.displayName);
  if (name) $("#who").textContent = `${name} (${contractorId}) · ${agency}`;
  await Promise.all([loadDashboard(), loadJobs(), loadStatements()]);
  listen();
}

function loadDashboard() { return whileBusy(loadDashboardNow); }

async function loadDashboardNow() {
  const figures = $("#figures");
  try {
    const insights = await trpcQuery("contractor.insights");
    const rows = [
      ["Assigned jobs", insights.totalAssignedJobs, String],
      ["Active jobs", insights.activeJobs, String],
      ["Completed jobs", insights.completedJobs, String],
      ["Overdue jobs", insights.overdueJobs, String],
      ["Pending payment", insights.pendingPaymentAmount, money],
      ["Earned", insights.totalEarnedAmount, money],
    ];
    figures.replaceChildren(...rows.map(([label, value, format]) => {
      const box = document.createElement("div");
      const term = document.createElement("dt");
      term.textContent = label;
      const figure = document.createElement("dd");
      // null is "could not be read this time", never zero.
      if (value === null || value === undefined) { figure.textContent = "unavailable"; figure.className = "na"; } else figure.textContent = format(value);
      box.append(term, figure);
      return box;
    }));
    const missing = insights.unavailable || [];
    $("#unavailable").hidden = missing.length === 0;
    $("#unavailable").textContent = missing.length ? "Unavailable right now: " + missing.join(", ") + "." : "";
  } catch (error) {
    figures.replaceChildren();
    $("#unavailable").hidden = false;
    $("#unavailable").textContent = "The dashboard is unavailable: " + error.message;
  }
}

function loadJobs() { return whileBusy(loadJobsNow); }

async function loadJobsNow() {
  const list = $("#jobs");
  let jobs;
  try {
    jobs = await api("GET", "/api/contractor/jobs?count=50");
  } catch (error) {
    notice("Jobs could not be loaded: " + error.message, true);
    return;
  }
  list.replaceChildren(...jobs.map(jobItem));
}

function jobItem(job) {
  const item = $("#job-template").content.firstElementChild.cloneNode(true);
  item.dataset.jobId = job.jobId;
  $(".title", item).textContent = job.title || job.jobId;
  $(".status", item).textContent = job.status;
  $(".overdue", item).hidden = job.overdue !== true;
  const meta = [job.jobId, job.propertyAddress, job.priority && `priority ${job.priority}`, job.dueBy && `due ${day(job.dueBy)}`];
  $(".meta", item).textContent = meta.filter(Boolean).join(" · ");
  $(".description", item).textContent = job.description || "";
  $(".notes", item).replaceChildren(...(job.notes || []).map((note) => {
    const line = document.createElement("li");
    line.textContent = `${day(note.createdAt)} ${note.createdBy || ""}: ${note.text}`;
    return line;
  }));
  $(".notes-pending", item).hidden = job.notesLoaded !== false;
  const done = /complet/i.test(job.status || "") || /cancel/i.test(job.status || "");
  const complete = $(".complete", item);
  complete.hidden = done;
  complete.addEventListener("click", () => whileBusy(() => markComplete(job.jobId, complete)));
  $(".add-note", item).addEventListener("submit", (event) => whileBusy(() => addNote(event, job.jobId)));
  const invoice = $(".invoice", item);
  invoice.hidden = /cancel/i.test(job.status || "");
  invoice.addEventListener("submit", (event) => whileBusy(() => submitInvoice(event, job.jobId)));
  return item;
}

// A key per intended write, kept until it is answered: a second click while the first is in flight
// sends the same key, so it is the same write.
function keyFor(form) {
  if (!form.dataset.key) form.dataset.key = crypto.randomUUID();
  return form.dataset.key;
}

async function addNote(event, jobId) {
  event.preventDefault();
  const form = event.target;
  const text = form.elements.note.value.trim();
  if (!text) return;
  try {
    await api("POST", `/api/contractor/jobs/${encodeURIComponent(jobId)}/notes`, { json: { note: text }, key: keyFor(form) });
    delete form.dataset.key;
    form.reset();
    notice(`Note added to ${jobId}.`);
    await loadJobs();
  } catch (error) {
    notice(`The note was not added: ${error.message}`, true);
  }
}

async function markComplete(jobId, button) {
  button.disabled = true;
  try {
    if (!button.dataset.key) button.dataset.key = crypto.randomUUID();
    await api("PATCH", `/api/contractor/jobs/${encodeURIComponent(jobId)}/complete`, { json: { completed: true }, key: button.dataset.key });
    delete button.dataset.key;
    notice(`${jobId} marked complete.`);
    await Promise.all([loadJobs(), loadDashboard()]);
  } catch (error) {
    notice(`${jobId} was not marked complete: ${error.message}`, true);
    button.disabled = false;
  }
}

async function submitInvoice(event, jobId) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData();
  data.append("jobId", jobId);
  data.append("amount", form.elements.amount.value.trim());
  if (form.elements.reference.value.trim()) data.append("reference", form.elements.reference.value.trim());
  data.append("file", form.elements.file.files[0]);
  const button = $("button", form);
  button.disabled = true;
  try {
    const result = await api("POST", "/api/contractor/invoices", { form: data, key: keyFor(form) });
    delete form.dataset.key;
    form.reset();
    notice(`Invoice submitted for ${jobId}` + (result.invoiceId ? ` (invoice ${result.invoiceId}).` : "."));
    await Promise.all([loadStatements(), loadDashboard()]);
  } catch (error) {
    notice(`The invoice was not submitted: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function cells(row, values) {
  row.replaceChildren(...values.map(([value, isMoney]) => {
    const cell = document.createElement("td");
    cell.textContent = value;
    if (isMoney) cell.className = "money";
    return cell;
  }));
  return row;
}

function loadStatements() { return whileBusy(loadStatementsNow); }

async function loadStatementsNow() {
  try {
    const [statement, pending] = await Promise.all([
      api("GET", "/api/contractor/statements/historical"), api("GET", "/api/contractor/statements/pending"),
    ]);
    $("#statement-table tbody").replaceChildren(...statement.entries.map((entry) => cells(document.createElement("tr"), [
      [day(entry.date)], [entry.description || ""], [entry.invoiceNumber || ""], [money(entry.debit), true], [money(entry.credit), true], [money(entry.balance), true],
    ])));
    $("#pending-table tbody").replaceChildren(...pending.map((entry) => cells(document.createElement("tr"), [
      [day(entry.date)], [entry.description || ""], [entry.invoiceNumber || ""], [money(entry.amount), true],
    ])));
  } catch (error) {
    notice("Statements could not be loaded: " + error.message, true);
  }
}

// MARK: live updates

// The gateway's job events as server-sent events; EventSource reconnects by itself and resumes after the
// last event it saw. The page reloads what changed, a moment later so that a burst is one reload.
function listen() {
  if (state.events) state.events.close();
  const events = new EventSource("/api/contractor/events");
  state.events = events;
  events.addEventListener("open", () => { $("#live").hidden = false; });
  events.addEventListener("jobUpdate", (message) => {
    const update = JSON.parse(message.data);
    const line = document.createElement("li");
    line.textContent = `${new Date().toLocaleTimeString()} ${update.jobId}: ${update.kind}` + (update.status ? ` (${update.status})` : "");
    $("#live-log").prepend(line);
    if (state.refreshTimer) { clearTimeout(state.refreshTimer); busy(-1); }
    busy(1);
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = null;
      Promise.all([loadJobs(), loadDashboard()]).finally(() => busy(-1));
    }, 300);
  });
  // The server's own "error" event: the session ended, so reconnecting with it is pointless.
  events.addEventListener("error", (message) => {
    if (message.data) { events.close(); $("#live").hidden = true; notice("The session ended: sign in again.", true); show(false); return; }
    $("#live").hidden = events.readyState !== EventSource.OPEN;
  });
}

start();
