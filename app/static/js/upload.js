// Choosing a picture: the file picker, a drop on the drop zone or a paste anywhere; checks, then a preview.

import { ApiError } from "./api.js";

const megabytes = (bytes) => `${(bytes / 2 ** 20).toPrecision(3)} MB`;
const size = (bytes) => (bytes < 2 ** 20 ? `${Math.ceil(bytes / 1024)} kB` : megabytes(bytes));

// What can be told before sending; the service still checks the content itself.
function problemWith(file, maxBytes, accepted) {
  if (file.size > maxBytes) {
    return new ApiError(413, "payload_too_large", `${file.name} is ${megabytes(file.size)}, more than the limit `
      + `of ${megabytes(maxBytes)}: choose a smaller picture.`);
  }
  if (file.type && !file.type.startsWith("image/")) {
    return new ApiError(415, "unsupported_media_type",
      `${file.name} is not a picture (${file.type}): choose a ${accepted} file.`);
  }
  if (file.size === 0) {
    return new ApiError(400, "invalid_image", `${file.name} is empty: choose another picture.`);
  }
  return null;
}

export function setupUpload({ input, zone, preview, image, name, maxBytes, accepted, onPick, onError }) {
  let chosen = null;

  function take(file) {
    const problem = problemWith(file, maxBytes, accepted);
    if (problem) {
      onError(problem);
      return;
    }
    chosen = file;
    if (image.src) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(file);
    image.alt = `Preview of ${file.name}`;
    name.textContent = `${file.name} · ${size(file.size)}`;
    preview.hidden = false;
    onPick(file);
  }

  image.addEventListener("error", () => {
    if (!chosen) return;
    image.alt = "";
    name.textContent = `${chosen.name}: this browser cannot show a preview of it; it will be sent as it is.`;
  });
  input.addEventListener("change", () => input.files[0] && take(input.files[0]));

  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) take(file);
  });

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    const file = files.find((f) => f.type.startsWith("image/")) ?? files[0];
    if (!file) return; // pasting text into a field stays a text paste
    event.preventDefault();
    take(file);
  });

  return { file: () => chosen };
}
