// The history of conversions, kept by the service: newest first, page by page, each playable and deletable.

import { api } from "./api.js";
import { describe, downloadLinks, guess } from "./result.js";

export function setupHistory({ list, template, more, status, heading, onPlay, onDelete, onError }) {
  const pageSize = Number(list.dataset.pageSize);
  let page = 0;

  function say(text) {
    status.textContent = text;
  }

  function entry(result) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.id = result.id;
    item.querySelector(".thumb").src = result.image_url;
    item.querySelector(".entry-caption").textContent = result.spoken || result.caption;
    item.querySelector(".entry-guess").textContent = guess(result, { brief: true });
    item.querySelector(".entry-meta").textContent = describe(result);
    item.querySelector(".downloads").append(...downloadLinks(result, result.caption));
    for (const button of item.querySelectorAll("button")) {
      const context = document.createElement("span");
      context.className = "visually-hidden";
      context.textContent = ` “${result.caption}”`;
      button.append(context);
    }
    item.querySelector(".play").addEventListener("click", () => onPlay(result));
    item.querySelector(".delete").addEventListener("click", () => remove(result, item));
    return item;
  }

  async function remove(result, item) {
    try {
      await api(`/api/history/${result.id}`, { method: "DELETE" });
    } catch (error) {
      onError(error);
      return;
    }
    const next = item.nextElementSibling ?? item.previousElementSibling;
    item.remove();
    (next?.querySelector(".play") ?? heading).focus(); // keep the keyboard user's place
    say(`Deleted “${result.caption}”.`);
    onDelete(result);
  }

  async function load(next = 1) {
    try {
      const body = await api(`/api/history?page=${next}&per_page=${pageSize}`);
      if (next === 1) list.replaceChildren();
      const known = new Set([...list.children].map((item) => item.dataset.id));
      list.append(...body.items.filter((r) => !known.has(r.id)).map(entry));
      page = next;
      more.hidden = page >= body.pages;
      if (!list.children.length) say("No conversions yet.");
    } catch (error) {
      onError(error);
    }
  }

  more.addEventListener("click", () => load(page + 1));

  return {
    load,
    add(result) {
      list.prepend(entry(result));
      say("");
    },
  };
}
