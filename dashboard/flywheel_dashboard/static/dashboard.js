// Passkeys through the browser's own WebAuthn JSON helpers (no library), actions with
// the page's CSRF token, and live overview updates from /api/events.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function say(text, bad) {
  const node = document.getElementById("message");
  if (node) { node.textContent = text; node.className = bad ? "bad" : "good"; }
}

async function register(form) {
  const fields = Object.fromEntries(new FormData(form));
  const options = await post("/auth/register/options", fields);
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
  });
  await post("/auth/register/verify", credential.toJSON());
  window.location = "/";
}

async function login() {
  const options = await post("/auth/login/options");
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
  });
  await post("/auth/login/verify", credential.toJSON());
  window.location = "/";
}

function liveOverview() {
  if (!document.querySelector('[data-live="overview"]')) return;
  const events = new EventSource("/api/events");
  events.addEventListener("overview", (event) => {
    const data = JSON.parse(event.data);
    document.getElementById("state").textContent = data.health.state;
    for (const [name, comp] of Object.entries(data.health.components)) {
      const cell = document.querySelector(`[data-component="${CSS.escape(name)}"] .status`);
      if (cell) { cell.textContent = comp.status; cell.className = `status status-${comp.status}`; }
    }
    for (const [name, pool] of Object.entries(data.pools || {})) {
      const row = document.querySelector(`[data-pool="${CSS.escape(name)}"]`);
      if (!row) continue;
      row.querySelector(".status").textContent = pool.status;
      row.querySelector(".status").className = `status pool-${pool.status}`;
      row.querySelector(".ready").textContent = `${pool.ready} / ${pool.expected}`;
      row.querySelector(".forge").textContent = (pool.forge || []).map((f) =>
        `${f.forge}: ${f.online.length} online${f.offline.length ? `, ${f.offline.length} not` : ""}` +
        (f.outcome === "unreachable" ? " (unreachable)" : "")).join("; ") || "-";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("register");
  if (form) form.addEventListener("submit", (event) => {
    event.preventDefault();
    register(form).catch((error) => say(error.message, true));
  });
  const loginButton = document.getElementById("login");
  if (loginButton) loginButton.addEventListener("click", () => login().catch((error) => say(error.message, true)));
  const logoutButton = document.getElementById("logout");
  if (logoutButton) logoutButton.addEventListener("click", () =>
    post("/auth/logout").then(() => { window.location = "/login"; }));
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => {
      const { action, pool } = button.dataset;
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      post(`/api/pools/${encodeURIComponent(pool)}/${action}`)
        .then((result) => { say(result.detail); setTimeout(() => window.location.reload(), 800); })
        .catch((error) => say(error.message, true));
    });
  }
  const invite = document.getElementById("invite-create");
  if (invite) invite.addEventListener("click", () => {
    post("/api/invites", { role: document.getElementById("invite-role").value })
      .then((result) => { document.getElementById("invite-code").textContent = result.invite; })
      .catch((error) => say(error.message, true));
  });
  liveOverview();
});
