// Comparison of 2 to 6 technologies: /compare?ids=a,b,c. The table and the three SVG charts are
// drawn from /api/compare (and the isolation ranks from /sparql): no number is typed in here.
import { appUrl, asList, el, fetchJSON, formatNumber, showError, sourceLinks, svg, uniqueSources, valueNumber, valueText } from "./common.js";

const MIN = 2;
const MAX = 6;
const VKG = "https://w3id.org/virtkg/ontology#";

const form = document.getElementById("compare-form");
const choices = document.getElementById("tech-choices");
const count = document.getElementById("pick-count");
const pickError = document.getElementById("pick-error");
const status = document.getElementById("compare-status");
const errorBox = document.getElementById("compare-error");
const comparison = document.getElementById("comparison");
const table = document.getElementById("compare-table");

let technologies = [];
let isolationLevels = null; // [{rank, labels: [..], iris: [..]}]
let requestNumber = 0;

// ---------------------------------------------------------------------------------------------
// picking

function idsFromUrl() {
  const raw = new URLSearchParams(location.search).get("ids") || "";
  return [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
}

function checkedIds() {
  return [...choices.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
}

function buildChoices() {
  choices.replaceChildren(
    ...technologies.map((tech) =>
      el(
        "label",
        { class: "choice" },
        el("input", { type: "checkbox", name: "tech", value: tech.id }),
        el("span", {}, tech.label, el("small", {}, tech.kind?.label || "")),
      ),
    ),
  );
}

function updateCount() {
  const n = checkedIds().length;
  count.textContent = `(${n} selected; choose ${MIN} to ${MAX})`;
}

function check(ids) {
  for (const box of choices.querySelectorAll("input[type=checkbox]")) box.checked = ids.includes(box.value);
  updateCount();
}

choices.addEventListener("change", () => {
  updateCount();
  showError(pickError, "");
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const ids = checkedIds();
  if (ids.length < MIN || ids.length > MAX) {
    showError(pickError, `Choose ${MIN} to ${MAX} technologies (${ids.length} selected).`);
    choices.querySelector("input")?.focus();
    return;
  }
  showError(pickError, "");
  const url = `${location.pathname}?ids=${ids.map(encodeURIComponent).join(",")}`;
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
  load();
});

window.addEventListener("popstate", () => load());

// ---------------------------------------------------------------------------------------------
// loading

async function load() {
  const ids = idsFromUrl();
  check(ids);
  showError(errorBox, "");
  const mine = ++requestNumber;
  if (ids.length < MIN) {
    comparison.hidden = true;
    const named = ids.map((id) => technologies.find((t) => t.id === id)?.label || id);
    status.textContent = ids.length
      ? `Choose at least one more technology to compare with ${named.join(", ")}.`
      : `Choose ${MIN} to ${MAX} technologies above.`;
    return;
  }
  if (ids.length > MAX) {
    comparison.hidden = true;
    status.textContent = `${ids.length} technologies were given: choose at most ${MAX} of them above.`;
    return;
  }
  status.textContent = "Loading comparison…";
  try {
    const [data, levels] = await Promise.all([
      fetchJSON(appUrl(`/api/compare?ids=${ids.map(encodeURIComponent).join(",")}`)),
      isolationLevels ? Promise.resolve(isolationLevels) : loadIsolationLevels(),
    ]);
    if (mine !== requestNumber) return;
    isolationLevels = levels;
    comparison.hidden = false; // visible first: the charts are sized to their containers
    render(data);
    const names = asList(data, "technologies").map((t) => t.label);
    status.textContent = `Comparing ${names.join(", ")}.`;
  } catch (error) {
    if (mine !== requestNumber) return;
    comparison.hidden = true;
    status.textContent = "No comparison.";
    showError(errorBox, error.message);
  }
}

/** The isolation boundary values and their ranks, from the graph (vkg:isolationRank). */
async function loadIsolationLevels() {
  const query = `PREFIX vkg: <${VKG}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?boundary ?label ?rank WHERE {
  ?boundary vkg:isolationRank ?rank .
  OPTIONAL { ?boundary rdfs:label ?label FILTER(LANGMATCHES(LANG(?label), "en") || LANG(?label) = "") }
} ORDER BY ?rank ?label`;
  const body = await fetchJSON(appUrl("/sparql"), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/sparql-results+json" },
    body: new URLSearchParams({ query }).toString(),
  });
  const byRank = new Map();
  for (const row of body.results.bindings) {
    const rank = Number(row.rank.value);
    if (!byRank.has(rank)) byRank.set(rank, { rank, labels: [], iris: [] });
    const level = byRank.get(rank);
    if (!level.iris.includes(row.boundary.value)) {
      level.iris.push(row.boundary.value);
      level.labels.push(row.label?.value || row.boundary.value.split("#").pop());
    }
  }
  return [...byRank.values()].sort((a, b) => a.rank - b.rank);
}

// ---------------------------------------------------------------------------------------------
// rendering

function propertyRow(data, name) {
  return (data.properties || []).find((row) => row.property.name === name || row.property.iri === VKG + name);
}

/** Per technology, the values of one property: [{id, label, points: [{value, number, sources}]}]. */
function series(data, name) {
  const row = propertyRow(data, name);
  return asList(data, "technologies").map((tech) => {
    const cells = row?.values?.[tech.id] || [];
    return {
      id: tech.id,
      label: tech.label,
      points: cells.map((cell) => ({
        value: cell.value,
        number: valueNumber(cell.value),
        sources: uniqueSources(cell.sources),
        comment: cell.comment,
      })),
    };
  });
}

let lastData = null;
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => lastData && !comparison.hidden && render(lastData), 200);
});

function render(data) {
  lastData = data;
  const techs = asList(data, "technologies");
  drawDotChart(document.querySelector("#chart-startup .chart-body"), series(data, "startupTimeMs"), { unit: "ms", log: true });
  drawDotChart(document.querySelector("#chart-memory .chart-body"), series(data, "memoryOverheadMiB"), { unit: "MiB", log: false });
  drawIsolation(document.querySelector("#chart-isolation .chart-body"), series(data, "isolationBoundary"));
  drawTable(techs, data.properties || []);
}

const ROW = 34;
const TOP = 10;
let WIDTH = 640; // the drawing is sized to its container (1 SVG unit = 1 CSS pixel)
let LEFT = 180;
let RIGHT = 70;

function size(container) {
  WIDTH = Math.max(280, Math.min(900, Math.round(container.clientWidth || 640)));
  LEFT = WIDTH < 480 ? 112 : 180;
  RIGHT = WIDTH < 480 ? 56 : 70;
}

/** A row label that fits the left margin (the full name stays in a tooltip). */
function rowLabel(text, y) {
  const max = Math.floor((LEFT - 14) / 6.6);
  const shown = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return svg("text", { x: LEFT - 10, y, "text-anchor": "end" }, shown, shown !== text ? svg("title", {}, text) : null);
}

function sourceText(sources) {
  return sources.length ? ` (${[...new Set(sources.map((s) => s.id))].join(", ")})` : " (no source)";
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** A dot plot: one row per technology, one dot per recorded value, a bar between disagreeing values. */
function drawDotChart(container, rows, { unit, log }) {
  size(container);
  const numbers = rows.flatMap((r) => r.points.map((p) => p.number)).filter((n) => n !== null && (!log || n > 0));
  const height = TOP + rows.length * ROW + 30;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-label": `${unit} per technology${log ? ", log scale" : ""}`,
    "data-scale": log ? "log" : "linear",
  });
  if (!numbers.length) {
    container.replaceChildren(el("p", { class: "help" }, "No values recorded for these technologies."), describe(rows, unit));
    return;
  }
  let lo;
  let hi;
  if (log) {
    lo = 10 ** Math.floor(Math.log10(Math.min(...numbers)));
    hi = 10 ** Math.ceil(Math.log10(Math.max(...numbers)));
    if (hi === lo) hi = lo * 10;
  } else {
    lo = 0;
    hi = niceMax(Math.max(...numbers));
  }
  const x = log
    ? (v) => LEFT + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotWidth
    : (v) => LEFT + ((v - lo) / (hi - lo)) * plotWidth;
  const ticks = [];
  if (log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 4; i += 1) ticks.push(lo + ((hi - lo) * i) / 4);
  const axisY = TOP + rows.length * ROW;
  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (const t of ticks) {
    grid.append(svg("line", { x1: x(t), x2: x(t), y1: TOP, y2: axisY }));
    axis.append(svg("g", { class: "tick" }, svg("text", { x: x(t), y: axisY + 16, "text-anchor": "middle" }, formatNumber(t))));
  }
  axis.append(svg("text", { class: "axis-label", x: LEFT + plotWidth, y: axisY + 28, "text-anchor": "end" }, unit + (log ? " (log scale)" : "")));
  chart.append(grid, axis);

  rows.forEach((row, i) => {
    const cy = TOP + i * ROW + ROW / 2;
    const group = svg("g", { class: "row", "data-tech": row.id });
    group.append(rowLabel(row.label, cy + 4));
    const points = row.points.filter((p) => p.number !== null && (!log || p.number > 0));
    if (!points.length) {
      group.append(svg("text", { class: "missing", x: LEFT + 6, y: cy + 4 }, "no value recorded"));
      chart.append(group);
      return;
    }
    const values = points.map((p) => p.number);
    const contested = new Set(values).size > 1;
    if (contested) {
      group.append(svg("line", { class: "range", x1: x(Math.min(...values)), x2: x(Math.max(...values)), y1: cy, y2: cy }));
    }
    for (const p of points) {
      group.append(
        svg(
          "circle",
          { class: `dot${contested ? " contested" : ""}`, cx: x(p.number), cy, r: 6, "data-tech": row.id, "data-value": p.number },
          svg("title", {}, `${row.label}: ${formatNumber(p.number)} ${unit}${sourceText(p.sources)}${p.comment ? ` — ${p.comment}` : ""}`),
        ),
      );
    }
    const label = contested
      ? `${formatNumber(Math.min(...values))}–${formatNumber(Math.max(...values))} ⚑`
      : formatNumber(values[0]);
    group.append(svg("text", { class: "value-label", x: x(Math.max(...values)) + 10, y: cy + 4 }, label));
    chart.append(group);
  });
  container.replaceChildren(chart, legend(), describe(rows, unit));
}

function legend() {
  return el(
    "p",
    { class: "legend" },
    el("span", { class: "swatch", style: "background: var(--accent)" }),
    "one value",
    el("span", { class: "swatch", style: "background: var(--unknown)" }),
    "sources disagree (⚑): every recorded value is drawn",
  );
}

/** The chart's numbers as text for screen readers (and anyone who wants them). */
function describe(rows, unit) {
  return el(
    "details",
    { class: "chart-data" },
    el("summary", {}, "Values and sources"),
    el(
      "ul",
      {},
      ...rows.map((row) =>
        el(
          "li",
          {},
          el("strong", {}, row.label), ": ",
          row.points.length
            ? row.points.flatMap((p, i) => [i ? "; " : "", `${valueText(p.value)}${unit ? ` ${unit}` : ""} `, sourceLinks(p.sources)])
            : "no value recorded",
        ),
      ),
    ),
  );
}

/** Ordinal chart: one column per isolation rank (from the graph), a bar up to each technology's boundary. */
function drawIsolation(container, rows) {
  size(container);
  const levels = isolationLevels || [];
  const rankOf = new Map(levels.flatMap((level) => level.iris.map((iri) => [iri, level.rank])));
  const height = TOP + rows.length * ROW + 90;
  const plotWidth = WIDTH - LEFT - 20;
  const column = plotWidth / Math.max(levels.length, 1);
  const x = (rank) => LEFT + (levels.findIndex((l) => l.rank === rank) + 0.5) * column;
  const axisY = TOP + rows.length * ROW;
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": "isolation boundary per technology (ordinal)" });
  levels.forEach((level, i) => {
    chart.append(svg("rect", { class: "step", x: LEFT + i * column + 2, y: TOP, width: column - 4, height: rows.length * ROW, rx: 6 }));
    const text = svg("text", { class: "tick", x: LEFT + (i + 0.5) * column, y: axisY + 16, "text-anchor": "middle" });
    const lines = level.labels.map((label) => label.replace(/ boundary$/, ""));
    const wrapped = column < 120 ? lines.flatMap((line) => line.split(/ |(?<=-)/)) : lines;
    wrapped.forEach((line, j) => {
      text.append(svg("tspan", { x: LEFT + (i + 0.5) * column, dy: j ? 13 : 0 }, line));
    });
    chart.append(text);
  });
  chart.append(svg("text", { class: "axis-label", x: LEFT + plotWidth, y: height - 4, "text-anchor": "end" }, "weaker → stronger isolation"));
  rows.forEach((row, i) => {
    const cy = TOP + i * ROW + ROW / 2;
    const group = svg("g", { class: "row", "data-tech": row.id });
    group.append(rowLabel(row.label, cy + 4));
    const ranked = row.points.filter((p) => p.value?.iri && rankOf.has(p.value.iri));
    if (!ranked.length) {
      group.append(svg("text", { class: "missing", x: LEFT + 6, y: cy + 4 }, "no value recorded"));
    }
    const contested = new Set(ranked.map((p) => rankOf.get(p.value.iri))).size > 1;
    for (const p of ranked) {
      const rank = rankOf.get(p.value.iri);
      group.append(svg("rect", { class: "bar", x: LEFT + 4, y: cy - 4, width: Math.max(x(rank) - LEFT - 4, 0), height: 8, rx: 4 }));
      group.append(
        svg(
          "circle",
          { class: `dot${contested ? " contested" : ""}`, cx: x(rank), cy, r: 7, "data-tech": row.id, "data-rank": rank, "data-boundary": p.value.iri },
          svg("title", {}, `${row.label}: ${valueText(p.value)}${sourceText(p.sources)}`),
        ),
      );
    }
    chart.append(group);
  });
  container.replaceChildren(chart, describe(rows, ""));
}

function drawTable(techs, properties) {
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      el("th", { scope: "col" }, "Property"),
      ...techs.map((t) => el("th", { scope: "col" }, el("a", { href: appUrl(`/?tech=${encodeURIComponent(t.id)}`) }, t.label))),
    ),
  );
  const body = el("tbody");
  for (const row of properties) {
    const label = row.property.name === "type" ? "kind" : row.property.label || row.property.name;
    const cells = techs.map((tech) => {
      const values = row.values?.[tech.id] || [];
      if (!values.length) return el("td", { class: "empty" }, "—");
      const numbers = values.map((v) => valueNumber(v.value)).filter((n) => n !== null);
      const contested = numbers.length > 1 && new Set(numbers).size > 1;
      return el(
        "td",
        { "data-tech": tech.id },
        ...values.map((v) =>
          el(
            "span",
            { class: "cell-value" },
            valueText(v.value), " ",
            sourceLinks(v.sources),
            v.comment ? el("details", { class: "note" }, el("summary", { title: "how this value was established" }, "note"), v.comment) : null,
          ),
        ),
        contested ? el("span", { class: "contested-mark", title: "the sources give different values" }, "contested") : null,
      );
    });
    body.append(el("tr", {}, el("th", { scope: "row" }, label), ...cells));
  }
  table.replaceChildren(el("caption", { class: "visually-hidden" }, "Facts of the compared technologies, with sources"), head, body);
}

// ---------------------------------------------------------------------------------------------

async function start() {
  try {
    technologies = asList(await fetchJSON(appUrl("/api/technologies")), "technologies");
    buildChoices();
    await load();
  } catch (error) {
    status.textContent = "The comparison could not load.";
    showError(errorBox, error.message);
  }
}

start();
