// Recommendation wizard. State = the query string: ?scenario=ID or ?dimension=value&...,
// plus ?tech=ID to highlight one technology. Every change pushes a history entry, so a
// ranking can be shared as a link and back/forward restore it.
import { appUrl, asList, el, fetchJSON, formatNumber, showError, sourceLinks, valueText } from "./common.js";

const form = document.getElementById("wizard-form");
const scenarioSelect = document.getElementById("scenario");
const rationale = document.getElementById("scenario-rationale");
const fieldset = document.getElementById("requirements");
const list = document.getElementById("results");
const status = document.getElementById("results-status");
const errorBox = document.getElementById("results-error");
const compareTop = document.getElementById("compare-top");

let dimensions = []; // from /api/requirements
let scenarios = new Map(); // id -> scenario
let requestNumber = 0;

// The order the requirement controls appear in (most decisive first); others follow by name.
const ORDER = ["isolation", "untrusted_multitenant", "guest", "full_os", "host_arch", "no_nested_virt",
  "container_ecosystem", "gpu", "max_startup_ms", "max_memory_overhead_mib"];
const STATUS_TEXT = { met: "met", unmet: "not met", unknown: "unknown" };
const STATUS_ICON = { met: "✓", unmet: "✗", unknown: "?" };

function isBoolean(dim) {
  return dim.kind !== "numeric" && (dim.values || []).length === 1 && dim.values[0].value === "true";
}

// ---------------------------------------------------------------------------------------------
// controls

function buildControls() {
  fieldset.replaceChildren(el("legend", {}, "Requirements"));
  for (const dim of dimensions) {
    const id = `req-${dim.name}`;
    const helpId = `${id}-help`;
    const help = dim.description ? el("p", { class: "help", id: helpId }, dim.description) : null;
    let field;
    if (dim.kind === "numeric") {
      const unit = dim.unit ? ` (${dim.unit})` : "";
      field = el(
        "div",
        { class: "field" },
        el("label", { for: id }, `${capitalize(dim.label || dim.name)}: at most${unit}`),
        el("input", {
          id,
          name: dim.name,
          type: "number",
          min: "0",
          step: "any",
          inputmode: "decimal",
          placeholder: "no limit",
          "aria-describedby": help ? helpId : null,
        }),
        help,
      );
    } else if (isBoolean(dim)) {
      const value = dim.values[0];
      field = el(
        "div",
        { class: "field check" },
        el("input", { id, name: dim.name, type: "checkbox", value: "true", "aria-describedby": help ? helpId : null }),
        el("label", { for: id }, capitalize(value.label || dim.label || dim.name)),
        help,
      );
    } else {
      const select = el(
        "select",
        { id, name: dim.name, "aria-describedby": help ? helpId : null },
        el("option", { value: "" }, "No requirement"),
        ...(dim.values || []).map((v) => el("option", { value: v.value, title: v.description || null }, v.label || v.value)),
      );
      field = el("div", { class: "field" }, el("label", { for: id }, capitalize(dim.label || dim.name)), select, help);
    }
    fieldset.append(field);
  }
}

function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** Requirements currently set in the controls: {name: value}. */
function readControls() {
  const requirements = {};
  for (const dim of dimensions) {
    const input = form.elements.namedItem(dim.name);
    if (!input) continue;
    if (input.type === "checkbox") {
      if (input.checked) requirements[dim.name] = "true";
    } else if (input.value !== "") {
      requirements[dim.name] = input.type === "number" ? decimalText(input.value) : input.value;
    }
  }
  return requirements;
}

/** A number field's text in decimal notation, as the API reads bounds ("1e3" -> "1000"). */
function decimalText(text) {
  const match = /^([+-]?)([0-9]*)(?:\.([0-9]*))?[eE]([+-]?[0-9]{1,2})$/.exec(text.trim());
  if (!match) return text; // no exponent (or an absurd one: the API explains what it takes)
  const [, sign, whole, fraction = "", exponent] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function writeControls(requirements) {
  for (const dim of dimensions) {
    const input = form.elements.namedItem(dim.name);
    if (!input) continue;
    const value = requirements[dim.name];
    if (input.type === "checkbox") input.checked = value === "true" || value === true;
    else input.value = value === undefined || value === null ? "" : String(value);
  }
}

/** A scenario's requirements as {dimension: value} (the API gives a list or an object). */
function scenarioRequirements(scenario) {
  const reqs = scenario?.requirements;
  if (!reqs) return {};
  if (Array.isArray(reqs)) {
    const out = {};
    for (const r of reqs) if (r.dimension && !(r.dimension in out)) out[r.dimension] = r.value;
    return out;
  }
  return { ...reqs };
}

// ---------------------------------------------------------------------------------------------
// URL state

function stateFromUrl() {
  const params = new URLSearchParams(location.search);
  const state = { scenario: params.get("scenario") || "", tech: params.get("tech") || "", requirements: {} };
  for (const dim of dimensions) {
    const value = params.get(dim.name);
    if (value !== null && value !== "") state.requirements[dim.name] = value;
  }
  return state;
}

function urlFor(state) {
  const params = new URLSearchParams();
  if (state.scenario) params.set("scenario", state.scenario);
  else for (const [name, value] of Object.entries(state.requirements)) params.set(name, value);
  if (state.tech) params.set("tech", state.tech);
  const query = params.toString();
  return location.pathname + (query ? `?${query}` : "");
}

function stateFromControls() {
  const current = stateFromUrl();
  return { scenario: scenarioSelect.value, tech: current.tech, requirements: scenarioSelect.value ? {} : readControls() };
}

function navigate(state) {
  const url = urlFor(state);
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
  show(state);
}

function show(state) {
  scenarioSelect.value = scenarios.has(state.scenario) ? state.scenario : "";
  const scenario = scenarios.get(scenarioSelect.value);
  writeControls(scenario ? scenarioRequirements(scenario) : state.requirements);
  rationale.textContent = scenario?.rationale || scenario?.description || "";
  rationale.hidden = !rationale.textContent;
  rank(state);
}

// ---------------------------------------------------------------------------------------------
// ranking

async function rank(state) {
  const mine = ++requestNumber;
  showError(errorBox, "");
  status.textContent = "Ranking…";
  list.setAttribute("aria-busy", "true");
  try {
    let body;
    if (state.scenario) {
      body = await fetchJSON(appUrl(`/api/scenarios/${encodeURIComponent(state.scenario)}/recommendations`));
    } else {
      const requirements = {};
      for (const [name, value] of Object.entries(state.requirements)) {
        const dim = dimensions.find((d) => d.name === name);
        requirements[name] = dim && dim.kind === "numeric" ? Number(value) : value;
      }
      body = await fetchJSON(appUrl("/api/recommend"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ requirements }),
      });
    }
    if (mine !== requestNumber) return; // a newer request is on its way
    render(body, state);
  } catch (error) {
    if (mine !== requestNumber) return;
    list.replaceChildren();
    status.textContent = "No ranking.";
    showError(errorBox, error.message);
  } finally {
    if (mine === requestNumber) list.removeAttribute("aria-busy");
  }
}

function render(body, state) {
  const results = asList(body, "results");
  const fitting = results.filter((r) => r.fits).length;
  const asked = (body.requirements || []).length;
  const about = body.scenario ? `for “${body.scenario.label}”` : asked ? `for ${asked} requirement${asked > 1 ? "s" : ""}` : "with no requirements set";
  status.textContent = `${results.length} technologies ranked ${about}: ${fitting} fit${fitting === 1 ? "s" : ""}.`;
  list.replaceChildren(...results.map((result, index) => card(result, index, state.tech)));

  const top = results.slice(0, 3).map((r) => r.technology.id);
  compareTop.hidden = top.length < 2;
  compareTop.href = appUrl(`/compare?ids=${top.map(encodeURIComponent).join(",")}`);

  const highlighted = state.tech && list.querySelector(`[data-tech-id="${CSS.escape(state.tech)}"]`);
  if (highlighted) highlighted.scrollIntoView({ block: "center" });
}

function card(result, index, highlight) {
  const tech = result.technology;
  const reqs = result.requirements || [];
  const met = reqs.filter((r) => r.status === "met").length;
  const fit = result.fits ? "fits" : met > 0 || reqs.some((r) => r.status === "unknown") ? "partial" : "no-fit";
  const badgeText = result.fits ? "Fits" : fit === "partial" ? "Partly fits" : "Does not fit";
  const isHighlight = highlight && tech.id === highlight;
  const titleId = `tech-${tech.id}`;
  const score = Number(result.score ?? 0);

  const header = el(
    "header",
    { class: "card-head" },
    el("span", { class: "rank", "aria-label": `Rank ${result.rank ?? index + 1}` }, String(result.rank ?? index + 1)),
    el(
      "div",
      { class: "card-title" },
      el("h3", { id: titleId }, tech.label),
      el("p", { class: "kind" }, tech.kind?.label || ""),
    ),
    el("span", { class: `fit-badge ${fit}`, dataset: { fits: String(Boolean(result.fits)) } }, badgeText),
    el(
      "div",
      { class: "score", title: "share of requirements met" },
      el("meter", { min: "0", max: "1", value: String(score), "aria-label": "score" }),
      el("span", { class: "score-text" }, reqs.length ? `${met}/${reqs.length} met · ${score.toFixed(2)}` : `score ${score.toFixed(2)}`),
    ),
  );

  const reqList = reqs.length
    ? el("ul", { class: "req-list" }, ...reqs.map(requirementRow))
    : el("p", { class: "help" }, "No requirements set: add some to see how this technology fares.");

  const caveats = result.caveats || [];
  const relevant = caveats.filter((c) => c.relevant);
  const caveatBlock = caveats.length
    ? el(
        "details",
        { class: "caveats", open: relevant.length > 0 && isHighlight },
        el("summary", {}, `${caveats.length} caveat${caveats.length > 1 ? "s" : ""}${relevant.length ? ` (${relevant.length} about your requirements)` : ""}`),
        el(
          "ul",
          {},
          ...caveats.map((c) =>
            el("li", { class: c.relevant ? "relevant" : null }, el("strong", {}, c.label || c.id), " ", c.text || "", " ", sourceLinks(c.sources)),
          ),
        ),
      )
    : null;

  const links = el(
    "p",
    { class: "card-links" },
    el("a", { href: appUrl(`/compare?ids=${encodeURIComponent(tech.id)}`) }, "Compare…"),
    el("a", { href: appUrl(`/technology/${encodeURIComponent(tech.id)}`) }, "All facts"),
  );

  return el(
    "li",
    {
      class: `result ${fit}${isHighlight ? " highlight" : ""}`,
      dataset: { techId: tech.id, fits: String(Boolean(result.fits)), rank: String(result.rank ?? index + 1) },
      "aria-labelledby": titleId,
      "aria-current": isHighlight ? "true" : null,
    },
    el("article", {}, isHighlight ? el("p", { class: "highlight-note" }, "The technology you came from") : null, header, reqList, caveatBlock, links),
  );
}

function requirementRow(req) {
  const facts = req.facts || [];
  let shown;
  if (facts.length) {
    shown = el(
      "span",
      { class: "facts" },
      ...facts.map((fact) =>
        el(
          "span",
          { class: "fact", title: fact.comment || null },
          el("span", { class: "fact-value" }, factText(fact, req)),
          " ",
          sourceLinks(fact.sources),
        ),
      ),
    );
  } else {
    shown = el("span", { class: "facts none" }, "no value recorded");
  }
  const want = req.unit ? `≤ ${formatNumber(req.value)} ${req.unit}` : req.label || `${req.dimension}: ${req.value}`;
  return el(
    "li",
    { class: `req ${req.status}`, dataset: { dimension: req.dimension, status: req.status } },
    el("span", { class: `status-chip ${req.status}` }, el("span", { "aria-hidden": "true" }, STATUS_ICON[req.status] || "·"), " ", STATUS_TEXT[req.status] || req.status),
    el("span", { class: "req-label" }, capitalize(want)),
    shown,
  );
}

function factText(fact, req) {
  const text = valueText(fact.value);
  if (req.unit && text !== "") return `${formatNumber(text)} ${req.unit}`;
  return text;
}

// ---------------------------------------------------------------------------------------------
// wiring

form.addEventListener("change", (event) => {
  if (event.target === scenarioSelect) {
    const current = stateFromUrl();
    navigate({ scenario: scenarioSelect.value, tech: current.tech, requirements: scenarioSelect.value ? {} : readControls() });
    return;
  }
  scenarioSelect.value = ""; // editing a requirement makes the set custom
  rationale.hidden = true;
  navigate(stateFromControls());
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  navigate(stateFromControls());
});

document.getElementById("reset").addEventListener("click", () => {
  navigate({ scenario: "", tech: stateFromUrl().tech, requirements: {} });
});

window.addEventListener("popstate", () => show(stateFromUrl()));

async function start() {
  try {
    const [reqBody, scenarioBody] = await Promise.all([fetchJSON(appUrl("/api/requirements")), fetchJSON(appUrl("/api/scenarios"))]);
    const position = (d) => (ORDER.includes(d.name) ? ORDER.indexOf(d.name) : ORDER.length);
    dimensions = asList(reqBody, "requirements", "dimensions").sort((a, b) => position(a) - position(b) || a.name.localeCompare(b.name));
    scenarios = new Map(asList(scenarioBody, "scenarios").map((s) => [s.id, s]));
    const sorted = [...scenarios.values()].sort((a, b) => a.label.localeCompare(b.label));
    scenarioSelect.append(...sorted.map((s) => el("option", { value: s.id }, s.label)));
    buildControls();
    show(stateFromUrl());
  } catch (error) {
    status.textContent = "The wizard could not load.";
    showError(errorBox, error.message);
  }
}

start();
