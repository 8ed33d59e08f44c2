// Jobs page: the organisation's jobs stay current over the /ws/jobs/ WebSocket (session sign-in).
// A changed job's status and progress are updated in place; a finished job offers "reload" for its links.
"use strict";

(() => {
  const table = document.getElementById("jobs-table");
  if (!table) return;
  const live = document.querySelector("[data-live-status]");
  const wanted = { status: table.dataset.status, kind: table.dataset.kind };
  let retry = 1000;

  function render(job) {
    if ((wanted.status && job.status !== wanted.status) || (wanted.kind && job.kind !== wanted.kind)) return;
    let row = table.querySelector(`tr[data-job="${job.id}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.job = job.id;
      for (const text of [new Date(job.created_at).toLocaleString(), job.kind, job.model]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      for (const field of ["status", "progress", "actions"]) {
        const cell = document.createElement("td");
        cell.dataset.field = field;
        row.append(cell);
      }
      const progress = document.createElement("progress");
      progress.max = 100;
      progress.setAttribute("aria-label", `Progress of job ${job.id}`);
      row.querySelector('[data-field="progress"]').append(progress);
      table.tBodies[0].prepend(row);
      const empty = document.querySelector("[data-empty]");
      if (empty) empty.remove();
    }
    const status = row.querySelector('[data-field="status"]');
    const badge = document.createElement("span");
    badge.className = `status status-${job.status}`;
    badge.textContent = job.status;
    status.replaceChildren(badge);
    if (job.error && job.error.message) status.append(` ${job.error.message}`);
    const bar = row.querySelector('[data-field="progress"] progress');
    if (bar) bar.value = job.status === "succeeded" ? 100 : job.progress || 0;
    row.classList.toggle("changed", true);
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${window.location.host}/ws/jobs/?org=${encodeURIComponent(table.dataset.organization)}`;
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => { retry = 1000; live.textContent = "Live: jobs update as they change."; });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "snapshot") data.jobs.forEach(render);
      else if (data.job) render(data.job);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401 || event.code === 4403) {
        live.textContent = "Live updates are not available for your role.";
        return;
      }
      live.textContent = "Reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();
})();
