// Jobs and Results pages: the organisation's jobs stay current over the /ws/jobs/ WebSocket (session sign-in).
// Jobs: a changed job's status and progress are updated in place; a finished job offers "reload" for its links.
// Both: a result deleted elsewhere (job.result_deleted) loses its link on Jobs, and its card on Results.
"use strict";

(() => {
  const table = document.getElementById("jobs-table");
  const results = document.querySelector("[data-results-of]");
  if (!table && !results) return;
  const organization = table ? table.dataset.organization : results.dataset.resultsOf;
  const live = document.querySelector("[data-live-status]");
  const say = (text) => { if (live) live.textContent = text; };
  const wanted = table ? { status: table.dataset.status, kind: table.dataset.kind } : {};
  let retry = 1000;

  function render(job) {
    if (!table) return;
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

  function resultDeleted(job) {
    const link = table && table.querySelector(`tr[data-job="${job.id}"] [data-result-link]`);
    if (link) {
      const note = document.createElement("span");
      note.className = "muted";
      note.dataset.resultDeleted = "";
      note.textContent = "Result deleted";
      link.replaceWith(note);
    }
    const card = results && results.querySelector(`[data-result="${job.id}"]`);
    if (card) {
      card.remove();
      say(`The result of job ${job.id} was deleted.`);
      const empty = document.querySelector("[data-results-empty]");
      if (empty && !results.querySelector("[data-result]")) empty.hidden = false;
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${window.location.host}/ws/jobs/?org=${encodeURIComponent(organization)}`;
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      retry = 1000;
      (table || results).dataset.live = "open";
      if (table) say("Live: jobs update as they change.");
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "snapshot") data.jobs.forEach(render);
      else if (data.type === "job.result_deleted") resultDeleted(data.job);
      else if (data.job) render(data.job);
    });
    socket.addEventListener("close", (event) => {
      (table || results).dataset.live = "closed";
      if (event.code === 4401 || event.code === 4403) {
        if (table) say("Live updates are not available for your role.");
        return;
      }
      if (table) say("Reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();
})();
