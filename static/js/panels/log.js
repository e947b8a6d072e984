// The live event log, newest first.

import { SOURCES, timeOf } from "../format.js";

const LOG_LIMIT = 200;

export function item(ctx, entry) {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = entry.at;
  time.textContent = timeOf(entry.at);
  const what = document.createElement("span");
  what.className = "what";
  const instances = ctx.page.hub.instances;
  const multi = instances && Object.keys(instances).length > 1;
  what.textContent = multi && entry.instance ? `${entry.instance}: ${entry.text}` : entry.text;
  if (entry.tag) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = SOURCES[entry.tag] || entry.tag;
    what.append(tag);
  }
  li.append(time, what);
  return li;
}

export function entry(ctx, logged) {
  const list = ctx.$("log");
  list.prepend(item(ctx, logged));
  while (list.children.length > LOG_LIMIT) list.lastElementChild.remove();
}
