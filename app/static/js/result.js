// Showing a result: what was spoken (read out by the live region), the model's guess, its audio and downloads.

// A link whose name says what it gets; ``about`` tells which result, for screen readers in a list of many.
function link(href, text, about, download) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (download) a.download = download;
  if (about) {
    const context = document.createElement("span");
    context.className = "visually-hidden";
    context.textContent = ` of “${about}”`;
    a.append(context);
  }
  const item = document.createElement("li");
  item.append(a);
  return item;
}

export function downloadLinks(result, about = "") {
  const format = result.speech.format;
  return [
    link(result.audio_url, `${format.toUpperCase()} audio`, about, `${result.id}.${format}`),
    link(result.caption_url, "Caption text", about, `${result.id}.txt`),
    link(result.zip_url, "All as ZIP", about, `result-${result.id}.zip`),
  ];
}

// What the model itself said, labelled as its guess (the spoken sentence may hedge it or leave it out);
// ``brief`` for the history, where the spoken sentence above it already says whether the picture was known.
export function guess(result, { brief = false } = {}) {
  if (!result.spoken) return "";
  const sure = result.confidence == null ? "" : `, ${Math.round(result.confidence * 100)}% sure`;
  const domain = result.in_domain === false && !brief ? "; the picture is unlike the ones it learned from" : "";
  const text = result.text && !brief ? ` Text in the picture: “${result.text}”.` : "";
  return `${brief ? "Guess" : "The model's guess"}: “${result.caption}”${sure}${domain}.${text}`;
}

export function describe(result) {
  const { model, speech } = result;
  const when = new Date(result.created_at).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  const took = `${result.processing_time.toFixed(2)}\u00a0s`;
  return `${model.name} v${model.version} · ${speech.engine}, ${speech.lang} · ${took} · ${when}`;
}

export function showResult(parts, result, { play = false } = {}) {
  parts.image.src = result.image_url;
  parts.image.alt = "The converted picture";
  parts.image.hidden = false;
  parts.caption.textContent = result.spoken || result.caption;
  parts.guess.textContent = guess(result);
  parts.meta.textContent = describe(result);
  parts.player.src = result.audio_url;
  parts.downloads.replaceChildren(...downloadLinks(result));
  if (play) parts.player.play().catch(() => {}); // a browser may refuse; the controls are there
}

export function clearResult(parts, message) {
  parts.image.hidden = true;
  parts.image.removeAttribute("src");
  parts.caption.textContent = message;
  parts.guess.textContent = "";
  parts.meta.textContent = "";
  parts.player.removeAttribute("src");
  parts.player.load();
  parts.downloads.replaceChildren();
}
