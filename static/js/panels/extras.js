// What comes from other parts of the hub: the demo's show button, the QR code and pairing card,
// and, where the hub answers their routes, the stored history and webhook deliveries.

import { describe, timeOf } from "../format.js";
import { item as logItem } from "./log.js";

let demoShow = null;

export function init(ctx) {
  const { $ } = ctx;
  $("demo-show").addEventListener("click", async () => {
    const paused = $("demo-show").getAttribute("aria-pressed") !== "true";
    try {
      demoShow = await ctx.api("POST", "/api/demo/show/", { paused });
      render(ctx);
    } catch (error) {
      ctx.notify(error.message);
    }
  });

  // The QR code is made by the hub (POST /api/qr-code), from the address only (and a pairing
  // code's fragment): never the token.
  $("qr-address").value = `${window.location.origin}/`;
  $("qr-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("pair-code").hidden = true;
    showQr(ctx, $("qr-address").value);
  });
  $("pair-code-button").addEventListener("click", async () => {
    try {
      const body = await ctx.api("POST", "/api/pairing-code/");
      const address = new URL($("qr-address").value);
      address.hash = `pair=${body.code}`;
      $("pair-code").textContent = `Pairing code ${body.code}, valid ${body.expires_in_s} s, once.`;
      $("pair-code").hidden = false;
      await showQr(ctx, address.toString());
    } catch (error) {
      ctx.notify(error.message);
    }
  });

  // Slower-moving things: refreshed every half minute.
  setInterval(() => {
    if (ctx.live()) load(ctx);
  }, 30000);
}

async function showQr(ctx, text) {
  // POSTed: an address with a pairing code stays out of request lines (logs, proxies).
  const headers = { "content-type": "application/json" };
  if (ctx.page.token) headers.authorization = `Bearer ${ctx.page.token}`;
  try {
    const response = await fetch("/api/qr-code/", { method: "POST", headers, body: JSON.stringify({ text }) });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new Error((data && data.message) || `The hub answered ${response.status}.`);
    }
    const image = ctx.$("qr-image");
    image.src = `data:image/svg+xml,${encodeURIComponent(await response.text())}`;
    image.hidden = false;
  } catch (error) {
    ctx.notify(error.message);
  }
}

export function render(ctx) {
  const button = ctx.$("demo-show");
  button.hidden = !(demoShow && demoShow.available) || Boolean(ctx.refusal("control", "demo"));
  if (button.hidden) return;
  button.setAttribute("aria-pressed", String(demoShow.paused));
  button.textContent = demoShow.paused ? "Resume the demo show" : "Pause the demo show";
}

export async function load(ctx) {
  const { $ } = ctx;
  try {
    demoShow = await ctx.api("GET", "/api/demo/show/");
  } catch (_) {
    demoShow = null;
  }
  render(ctx);
  // Only what the token may read: the plain history covers every instance, which a token limited
  // to some must not ask for; webhooks are an admin's.
  const may = ctx.page.may;
  const limited = may && Array.isArray(may.instances) ? may.instances[0] : null;
  try {
    if (may && Array.isArray(may.instances) && !limited) throw new Error("no instance to read");
    const body = await ctx.api("GET", limited ? ctx.instancePath(limited, "events/?limit=50") : "/api/events/?limit=50");
    const events = Array.isArray(body && body.events) ? body.events : [];
    $("history").replaceChildren(
      ...events.map((event) => {
        // A stored event is the change as it was pushed: its payload, named by `kind`.
        const change = { ...(event.payload || {}), type: event.kind };
        return logItem(ctx, { at: event.happened_at, instance: event.instance, text: describe(change), tag: event.source });
      }),
    );
    $("history-card").hidden = false;
  } catch (_) {
    $("history-card").hidden = true;
  }
  try {
    if (ctx.refusal("admin")) throw new Error(ctx.refusal("admin"));
    const body = await ctx.api("GET", "/api/webhooks/");
    const hooks = Array.isArray(body && body.webhooks) ? body.webhooks : [];
    const items = await Promise.all(hooks.map((hook) => webhookItem(ctx, hook)));
    if (!items.length) {
      const none = document.createElement("li");
      none.textContent = "No webhooks registered (POST /api/webhooks/, or [[webhooks]] in the config file).";
      items.push(none);
    }
    $("webhooks").replaceChildren(...items);
    $("webhooks-card").hidden = false;
  } catch (_) {
    $("webhooks-card").hidden = true;
  }
}

// One endpoint: where it posts, whether it is on, and how its latest delivery went.
async function webhookItem(ctx, hook) {
  const item = document.createElement("li");
  const parts = [hook.url];
  parts.push(hook.enabled ? "enabled" : `disabled${hook.disabled_reason ? `: ${hook.disabled_reason}` : ""}`);
  try {
    const log = await ctx.api("GET", `/api/webhooks/${encodeURIComponent(hook.id)}/deliveries/?limit=1`);
    const last = log && Array.isArray(log.deliveries) ? log.deliveries[0] : null;
    if (last) {
      const when = timeOf(last.delivered_at || last.created_at);
      parts.push(`last delivery ${last.status}${when ? ` at ${when}` : ""} after ${last.attempts} attempt${last.attempts === 1 ? "" : "s"}`);
    } else {
      parts.push("nothing delivered yet");
    }
  } catch (_) {
    parts.push("delivery log unavailable");
  }
  item.textContent = parts.join(" · ");
  return item;
}
