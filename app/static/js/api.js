// Calls to the service's JSON API. Every failure becomes an ApiError carrying the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(url, options = {}) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError(0, "network", "The service could not be reached: check that it is running, then try again.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.code ?? `http_${response.status}`,
      error.message ?? `The service answered ${response.status} ${response.statusText}.`);
  }
  return body;
}

const TITLES = {
  payload_too_large: "The file is too large",
  unsupported_media_type: "Wrong file type",
  invalid_image: "The picture could not be read",
  image_too_large: "The picture has too many pixels",
  model_unavailable: "No model is ready",
  speech_unavailable: "Speech is not available",
  missing_image: "No picture chosen",
  unauthorized: "Admin token needed",
  forbidden: "Wrong admin token",
  admin_disabled: "Training is turned off",
  training_busy: "A training run is already going",
  invalid_override: "A parameter is out of range",
  network: "The service is unreachable",
  too_many_requests: "Too many requests",
  cross_site_request: "Refused",
};

// Fill an alert box with a title for the kind of error and the service's own explanation.
export function showError(box, error) {
  const title = document.createElement("strong");
  title.textContent = `${TITLES[error.code] ?? "Something went wrong"}.`;
  box.replaceChildren(title, " ", error.message);
  box.hidden = false;
}

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}
