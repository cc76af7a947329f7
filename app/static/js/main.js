// The conversion page: choose a picture and options, convert, hear the caption, browse the history.

import { api, ApiError, clearError, showError } from "./api.js";
import { setupHistory } from "./history.js";
import { clearResult, showResult } from "./result.js";
import { setupUpload } from "./upload.js";

const $ = (id) => document.getElementById(id);
const form = $("convert-form");
const errorBox = $("error");
const status = $("convert-status");
const result = { image: $("result-image"), caption: $("caption"), guess: $("guess"), meta: $("result-meta"),
  player: $("player"), downloads: $("result-downloads") };
let shownId = null;

function fail(error) {
  showError(errorBox, error);
  status.textContent = "";
}

const upload = setupUpload({
  input: $("image-input"), zone: $("drop-zone"), preview: $("preview"), image: $("preview-image"),
  name: $("preview-name"), maxBytes: Number(form.dataset.maxBytes), accepted: form.dataset.accepted,
  onPick: (file) => {
    clearError(errorBox);
    status.textContent = `${file.name} is ready: press Convert.`;
  },
  onError: fail,
});

const history = setupHistory({
  list: $("history"), template: $("history-item"), more: $("history-more"), status: $("history-status"),
  heading: $("history-heading"), onError: fail,
  onPlay: (entry) => {
    shownId = entry.id;
    showResult(result, entry, { play: true });
  },
  onDelete: (entry) => entry.id === shownId && clearResult(result, "That result was deleted."),
});

// Options --------------------------------------------------------------------------------------------------------

async function loadModels() {
  const select = $("model");
  const info = $("model-info");
  let models;
  try {
    ({ models } = await api("/api/models"));
  } catch (error) {
    fail(error);
    return;
  }
  select.replaceChildren(...models.map((model) => {
    const label = model.loaded ? `${model.name} (version ${model.version})` : `${model.name} (not ready)`;
    return new Option(label, model.id, model.default, model.default);
  }));
  const describe = () => {
    const model = models.find((m) => m.id === select.value);
    offerLanguages(model?.loaded ? model.languages : null);
    const bleu = model?.test_bleu4 == null ? "" : ` Test BLEU-4: ${model.test_bleu4.toFixed(2)}.`;
    info.textContent = model?.loaded ? `${model.description ?? ""}${bleu}`
      : `Not loaded yet${model?.error ? `: ${model.error.replace(/\.$/, "")}` : ""}.`;
  };
  select.addEventListener("change", describe);
  describe();
  if (!models.some((m) => m.loaded)) {
    showError(errorBox, new ApiError(503, "model_unavailable",
      "no captioning model is loaded yet, so conversions will fail; try again once the service is ready."));
  }
}

function nameLanguages() {
  const names = new Intl.DisplayNames([navigator.language || "en"], { type: "language" });
  for (const option of $("lang").options) option.textContent = `${names.of(option.value)} (${option.value})`;
}

// Only the languages the chosen model describes pictures in (null: not known yet, offer what the page has).
function offerLanguages(languages) {
  for (const option of $("lang").options) {
    option.hidden = option.disabled = languages != null && !languages.includes(option.value);
  }
  const chosen = $("lang").selectedOptions[0];
  if (chosen?.disabled) $("lang").value = [...$("lang").options].find((o) => !o.disabled)?.value ?? "";
}

const autoplay = $("autoplay");
autoplay.checked = localStorage.getItem("autoplay") === "1";
autoplay.addEventListener("change", () => localStorage.setItem("autoplay", autoplay.checked ? "1" : "0"));

// Converting -----------------------------------------------------------------------------------------------------

function busy(on) {
  form.setAttribute("aria-busy", String(on));
  $("convert-button").disabled = on;
  $("progress").hidden = !on;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = upload.file();
  if (!file) {
    fail(new ApiError(0, "missing_image", "drop a picture on the box, paste one, or choose one with the file picker."));
    return;
  }
  const data = new FormData();
  data.append("image", file, file.name);
  for (const field of ["model", "lang", "engine", "format"]) if ($(field).value) data.append(field, $(field).value);
  data.append("text", $("text").checked ? "on" : "off");
  clearError(errorBox);
  busy(true);
  status.textContent = `Converting ${file.name}…`;
  try {
    const answer = await api("/api/convert", { method: "POST", body: data });
    shownId = answer.id;
    showResult(result, answer, { play: autoplay.checked });
    history.add(answer);
    status.textContent = `Done in ${answer.processing_time.toFixed(2)} s.`;
  } catch (error) {
    fail(error);
  } finally {
    busy(false);
  }
});

nameLanguages();
loadModels();
history.load();
