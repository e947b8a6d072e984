// The hub's automation rules (GET /api/rules, where the hub has them): each rule with its last
// firing, switched on and off, and tried without acting (a dry run says whether it would fire
// now and what it would do). Changing a rule is an admin's; reading them is anyone's.

import { timeOf } from "../format.js";

let rules = null; // null: the hub has no rules routes (or has not answered yet)
let tried = {}; // rule name -> the last dry run's answer

export function init(ctx) {
  setInterval(() => {
    if (ctx.live() && rules) load(ctx);
  }, 30000);
}

export async function load(ctx) {
  try {
    const answer = await ctx.api("GET", "/api/rules");
    rules = answer.rules || [];
  } catch (_) {
    rules = null; // an older hub, or no history: no panel
  }
  ctx.schedule();
}

export function changed(ctx, change) {
  if (change.type === "rule_fired") load(ctx);
}

function firingText(firing) {
  if (!firing) return "never fired";
  return `${firing.outcome} at ${timeOf(firing.at)}${firing.reason ? ` (${firing.reason})` : ""}`;
}

function dryRunText(answer) {
  if (answer.error) return `Dry run failed: ${answer.error}`;
  const actions = (answer.actions || []).map((action) => action.action || action.type).filter(Boolean);
  const verdict = answer.would_fire ? "Would fire now" : answer.conditions_hold ? "Conditions hold, but the trigger is not met now" : "Would not fire now";
  return `${verdict}${actions.length ? `: ${actions.join("; ")}` : ""}.`;
}

export function render(ctx) {
  const { $ } = ctx;
  const card = $("rules-card");
  card.hidden = rules === null;
  if (card.hidden) return;
  const refused = ctx.refusal("admin");
  const note = $("rules-refusal");
  note.hidden = !refused;
  note.textContent = refused ? `${refused} Rules are shown, not changed.` : "";
  const key = JSON.stringify([rules, tried, Boolean(refused)]);
  const list = $("rules");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  if (!rules.length) {
    const none = document.createElement("li");
    none.textContent = "No rules (POST /api/rules, or [[rules]] in the config file).";
    list.replaceChildren(none);
    return;
  }
  list.replaceChildren(
    ...rules.map((rule) => {
      const li = document.createElement("li");
      li.className = `rule${rule.enabled ? "" : " off"}`;
      li.dataset.rule = rule.name;
      const head = document.createElement("div");
      head.className = "rule-head";
      const name = document.createElement("span");
      name.className = "rule-name";
      name.textContent = rule.name;
      const state = document.createElement("span");
      state.className = `badge ${rule.enabled ? "ok" : ""}`;
      state.textContent = rule.enabled ? "on" : "off";
      head.append(name, state);
      const facts = document.createElement("p");
      facts.className = "hint rule-facts";
      const parts = [`Last: ${firingText(rule.last_firing)}`];
      if (rule.entered && rule.entered.length) parts.push(`holding for ${rule.entered.join(", ")}`);
      if (rule.next_run) parts.push(`next run ${timeOf(rule.next_run)}`);
      if (rule.origin === "config") parts.push("from the config file");
      facts.textContent = parts.join(" · ");
      li.append(head, facts);
      if (!refused) {
        const row = document.createElement("div");
        row.className = "row";
        const toggle = document.createElement("button");
        toggle.type = "button";
        toggle.className = "rule-toggle";
        toggle.textContent = rule.enabled ? "Disable" : "Enable";
        toggle.hidden = rule.origin === "config"; // the config file's word: read-only here
        toggle.addEventListener("click", () => setEnabled(ctx, rule, !rule.enabled));
        const dry = document.createElement("button");
        dry.type = "button";
        dry.className = "rule-dry-run";
        dry.textContent = "Dry run";
        dry.addEventListener("click", () => dryRun(ctx, rule.name));
        row.append(toggle, dry);
        li.append(row);
      }
      if (tried[rule.name]) {
        const result = document.createElement("p");
        result.className = "rule-result";
        result.textContent = dryRunText(tried[rule.name]);
        li.append(result);
      }
      return li;
    }),
  );
}

async function setEnabled(ctx, rule, enabled) {
  try {
    const view = await ctx.api("PATCH", `/api/rules/${encodeURIComponent(rule.name)}`, { enabled });
    rules = rules.map((known) => (known.name === view.name ? view : known));
    ctx.schedule();
  } catch (error) {
    ctx.notify(`Could not ${enabled ? "enable" : "disable"} the rule ${rule.name}: ${error.message}`);
  }
}

async function dryRun(ctx, name) {
  try {
    tried = { ...tried, [name]: await ctx.api("POST", `/api/rules/${encodeURIComponent(name)}/test`) };
  } catch (error) {
    tried = { ...tried, [name]: { error: error.message } };
  }
  ctx.schedule();
}
