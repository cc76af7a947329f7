// The admin page: start a training run with the admin token and follow it until it ends.

import { api, ApiError, clearError, showError } from "./api.js";

const $ = (id) => document.getElementById(id);
const form = $("train-form");
const errorBox = $("error");
const POLL_MS = 1500;
let jobId = localStorage.getItem("trainingJob");
let timer = null;

function token() {
  const value = $("admin-token").value.trim();
  if (!value) throw new ApiError(401, "unauthorized", "enter the admin token first.");
  return { Authorization: `Bearer ${value}` };
}

// The overrides the form sets: empty fields are left out, numbers sent as numbers.
function overrides() {
  const body = {};
  for (const field of form.querySelectorAll("[data-kind]")) {
    if (field.value === "") continue;
    body[field.name] = field.dataset.kind === "str" ? field.value : Number(field.value);
  }
  return body;
}

function show(job) {
  const epoch = job.epoch;
  $("job-status").textContent = job.status === "running" ? "Running…"
    : `${job.status[0].toUpperCase()}${job.status.slice(1)}${job.error ? `: ${job.error}` : "."}`;
  $("job-details").hidden = false;
  $("job-id").textContent = job.job_id;
  $("job-stage").textContent = job.stage ?? "starting";
  $("job-epoch").textContent = epoch ? `${epoch.current} of ${epoch.total}` : "none yet";
  $("job-elapsed").textContent = `${job.elapsed} s`;
  $("job-model").textContent = job.model
    ? `${job.model.name} version ${job.model.version}, ${job.promoted ? "promoted" : "not promoted"}`
    + (job.promotion_reason ? ` (${job.promotion_reason})` : "")
    : "none yet";
  $("job-run").textContent = job.mlflow_run_id ?? "none yet";
  $("job-log").textContent = job.log_tail.join("\n");
  const progress = $("job-progress");
  progress.hidden = !epoch;
  if (epoch) Object.assign(progress, { max: epoch.total, value: epoch.current });
}

async function follow() {
  clearTimeout(timer);
  if (!jobId) return;
  try {
    const job = await api(`/api/train/${jobId}`, { headers: token() });
    show(job);
    if (job.status === "running") timer = setTimeout(follow, POLL_MS);
  } catch (error) {
    showError(errorBox, error);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError(errorBox);
  try {
    const started = await api("/api/train", {
      method: "POST", headers: { ...token(), "Content-Type": "application/json" }, body: JSON.stringify(overrides()),
    });
    jobId = started.job_id;
    localStorage.setItem("trainingJob", jobId);
    $("job-status").textContent = `Started; it should take about ${Math.round(started.estimated_time)} s.`;
    timer = setTimeout(follow, POLL_MS);
  } catch (error) {
    showError(errorBox, error);
    if (error.status === 401 || error.status === 403) $("admin-token").focus();
  }
});

$("job-refresh").addEventListener("click", () => {
  clearError(errorBox);
  if (!jobId) $("job-status").textContent = "No job started from this browser yet.";
  follow();
});

if (jobId) $("job-status").textContent = `Last job: ${jobId}. Enter the token and refresh to see its status.`;
