// SPARQL editor over /sparql: CodeMirror 5 (window.CodeMirror, served from /vendor/) with its
// SPARQL mode, the saved queries of /api/queries, a results table and downloads in every format.
// A saved query with parameters gets a form that runs it through GET /api/queries/{name}?...
// (the service binds the values as typed terms).
import { appUrl, asList, el, fetchJSON, showError } from "./common.js";

const PREFIXES = {
  vkg: "https://w3id.org/virtkg/ontology#",
  tech: "https://w3id.org/virtkg/technology/",
  scn: "https://w3id.org/virtkg/scenario/",
  fit: "https://w3id.org/virtkg/fit/",
  src: "https://w3id.org/virtkg/source/",
  cav: "https://w3id.org/virtkg/caveat/",
  rdf: "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
  rdfs: "http://www.w3.org/2000/01/rdf-schema#",
  owl: "http://www.w3.org/2002/07/owl#",
  xsd: "http://www.w3.org/2001/XMLSchema#",
  skos: "http://www.w3.org/2004/02/skos/core#",
  dcterms: "http://purl.org/dc/terms/",
};

const START = `${Object.entries(PREFIXES)
  .map(([prefix, iri]) => `PREFIX ${prefix}: <${iri}>`)
  .join("\n")}

# Every technology, its kind and its isolation boundary
SELECT ?tech ?label ?boundary WHERE {
  ?tech a vkg:Technology ; rdfs:label ?label .
  OPTIONAL { ?tech vkg:isolationBoundary ?boundary }
}
ORDER BY ?label
`;

/** The formats /sparql serves, per query family: [format= value, label, file extension]. */
const FORMATS = {
  solutions: [["json", "JSON", "srj"], ["xml", "XML", "srx"], ["csv", "CSV", "csv"], ["tsv", "TSV", "tsv"]],
  graph: [["turtle", "Turtle", "ttl"], ["ntriples", "N-Triples", "nt"], ["rdfxml", "RDF/XML", "rdf"], ["jsonld", "JSON-LD", "jsonld"]],
};

const form = document.getElementById("sparql-form");
const textarea = document.getElementById("query");
const saved = document.getElementById("saved");
const savedDescription = document.getElementById("saved-description");
const status = document.getElementById("sparql-status");
const errorBox = document.getElementById("sparql-error");
const table = document.getElementById("sparql-table");
const graphOutput = document.getElementById("sparql-graph");
const downloads = document.getElementById("downloads");
const resultsTitle = document.getElementById("sparql-results-title");
const paramsForm = document.getElementById("params-form");
const paramsFields = document.getElementById("params-fields");
const paramsOperation = document.getElementById("params-operation");
const paramsEdited = document.getElementById("params-edited");

/** What each parameter type of /api/queries accepts (the service checks it). */
const TYPE_HELP = {
  iri: "An absolute IRI",
  integer: "An integer",
  decimal: "A decimal number",
  boolean: "true or false",
  string: "Text",
};
const INPUT_MODE = { integer: "numeric", decimal: "decimal" };

let queries = new Map();

const editor = window.CodeMirror.fromTextArea(textarea, {
  mode: "application/sparql-query",
  lineNumbers: true,
  matchBrackets: true,
  indentUnit: 2,
  lineWrapping: true,
  viewportMargin: Infinity,
  extraKeys: {
    Tab: false, // Tab and Shift-Tab move the focus: no keyboard trap
    "Shift-Tab": false,
    "Ctrl-Enter": () => run(),
    "Cmd-Enter": () => run(),
  },
});
editor.getInputField().setAttribute("aria-label", "SPARQL query");
editor.getInputField().setAttribute("aria-describedby", "editor-help");

/** SELECT/ASK -> "solutions"; CONSTRUCT/DESCRIBE -> "graph" (comments and prologue skipped). */
function queryFamily(text) {
  const body = text
    .replace(/#[^\n]*/g, " ")
    .replace(/<[^>]*>/g, "<>")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const match = body.match(/\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b/i);
  if (!match) return "solutions";
  return /^(CONSTRUCT|DESCRIBE)$/i.test(match[1]) ? "graph" : "solutions";
}

function updateDownloads() {
  const text = editor.getValue();
  const family = queryFamily(text);
  downloads.replaceChildren(
    el("span", { class: "help" }, "Download:"),
    ...FORMATS[family].map(([format, label, ext]) =>
      el(
        "a",
        {
          href: appUrl(`/sparql?${new URLSearchParams({ query: text, format })}`),
          download: `virtkg-results.${ext}`,
          "data-format": format,
        },
        label,
      ),
    ),
  );
}

function compact(iri) {
  for (const [prefix, base] of Object.entries(PREFIXES)) {
    if (iri.startsWith(base) && /^[\w-]*$/.test(iri.slice(base.length))) return `${prefix}:${iri.slice(base.length)}`;
  }
  return `<${iri}>`;
}

function termCell(term) {
  if (!term) return el("td", { class: "unbound" }, "");
  if (term.type === "uri") return el("td", {}, el("a", { href: term.value, title: term.value }, compact(term.value)));
  if (term.type === "bnode") return el("td", {}, `_:${term.value}`);
  const note = term["xml:lang"] ? `@${term["xml:lang"]}` : term.datatype ? ` ${compact(term.datatype)}` : "";
  return el("td", {}, term.value, note ? el("span", { class: "lit-type" }, ` ${note}`) : null);
}

function showSolutions(body, truncated) {
  graphOutput.hidden = true;
  if (typeof body.boolean === "boolean") {
    table.replaceChildren(el("tbody", {}, el("tr", {}, el("th", { scope: "row" }, "ASK"), el("td", {}, String(body.boolean)))));
    status.textContent = `ASK: ${body.boolean}.`;
    return;
  }
  const vars = body.head?.vars || [];
  const rows = body.results?.bindings || [];
  table.replaceChildren(
    el("thead", {}, el("tr", {}, ...vars.map((v) => el("th", { scope: "col" }, `?${v}`)))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...vars.map((v) => termCell(row[v]))))),
  );
  table.dataset.rows = String(rows.length);
  status.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}${truncated ? " (truncated by the server's row limit)" : ""}.`;
}

/** Send one query request and show the answer: a table, a graph, or the service's error. */
async function execute(url, init, family) {
  showError(errorBox, "");
  status.textContent = "Running…";
  table.replaceChildren();
  delete table.dataset.rows;
  graphOutput.hidden = true;
  try {
    const accept = family === "graph" ? "text/turtle" : "application/sparql-results+json";
    const resp = await fetch(url, { ...init, headers: { ...(init.headers || {}), Accept: accept } });
    const raw = await resp.text();
    if (!resp.ok) {
      let message = raw.trim();
      try {
        const parsed = JSON.parse(raw);
        message = parsed.message ? `${parsed.error ? `${parsed.error}: ` : ""}${parsed.message}` : message;
      } catch {
        // text/plain "code: message" as SPARQL clients get it
      }
      status.textContent = `The query failed (HTTP ${resp.status}).`;
      showError(errorBox, message || resp.statusText);
      return;
    }
    const truncated = resp.headers.get("X-Virtkg-Truncated") === "true";
    if (family === "graph") {
      graphOutput.textContent = raw;
      graphOutput.hidden = false;
      const triples = raw.split("\n").filter((line) => /\.\s*$/.test(line) && !/^@prefix/i.test(line)).length;
      status.textContent = `Graph result (Turtle, about ${triples} statement${triples === 1 ? "" : "s"})${truncated ? ", truncated" : ""}.`;
    } else {
      showSolutions(JSON.parse(raw), truncated);
    }
  } catch (error) {
    status.textContent = "The query could not be sent.";
    showError(errorBox, error.message);
  }
}

/** Run the editor's text at /sparql. */
function run() {
  const text = editor.getValue();
  return execute(
    appUrl("/sparql"),
    {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: text }).toString(),
    },
    queryFamily(text),
  );
}

/** The REST operation of a saved query. */
function operationUrl(query) {
  return appUrl(`/api/queries/${encodeURIComponent(query.name)}`);
}

/** Run the selected saved query as stored, with the form's values (empty = not given); then
 * bring the results (below the editor) into view. */
async function runSaved() {
  const query = queries.get(saved.value);
  if (!query) return;
  const values = new URLSearchParams();
  for (const [name, value] of new FormData(paramsForm)) if (value !== "") values.append(name, value);
  const search = values.toString();
  const family = /^(CONSTRUCT|DESCRIBE)$/i.test(query.form || "") ? "graph" : "solutions";
  await execute(`${operationUrl(query)}${search ? `?${search}` : ""}`, { method: "GET" }, family);
  resultsTitle.scrollIntoView({ block: "start" });
}

/** One labelled control per parameter: its name, whether it is required, its type. */
function paramField(parameter) {
  const id = `param-${parameter.name}`;
  const helpId = `${id}-help`;
  const common = {
    id,
    name: parameter.name,
    required: parameter.required,
    "aria-describedby": helpId,
    dataset: { type: parameter.type },
  };
  const control =
    parameter.type === "boolean"
      ? el(
          "select",
          common,
          el("option", { value: "" }, parameter.required ? "Choose…" : "(not given)"),
          el("option", { value: "true" }, "true"),
          el("option", { value: "false" }, "false"),
        )
      : el("input", {
          ...common,
          type: parameter.type === "iri" ? "url" : "text",
          inputmode: INPUT_MODE[parameter.type],
          autocomplete: "off",
          spellcheck: "false",
        });
  const kind = parameter.type === "langString" ? `Text in @${parameter.language}` : TYPE_HELP[parameter.type] || "Text";
  return el(
    "div",
    { class: "field" },
    el("label", { for: id }, parameter.name, " ", el("span", { class: "param-need" }, parameter.required ? "required" : "optional")),
    control,
    el("p", { id: helpId, class: "help" }, `${kind}; binds ?${parameter.variable}.`, parameter.required ? "" : " Empty: not used."),
  );
}

function showParameters(query) {
  const parameters = query?.parameters || [];
  paramsForm.hidden = parameters.length === 0;
  paramsFields.replaceChildren(...parameters.map(paramField));
  if (query) paramsOperation.textContent = `GET ${operationUrl(query)}`;
  paramsEdited.hidden = true;
}

/** Say so when the editor no longer holds the saved query the form runs. */
function markEdited() {
  const query = queries.get(saved.value);
  paramsEdited.hidden = paramsForm.hidden || !query || editor.getValue().trim() === query.sparql.trim();
}

function loadSaved(name, { push } = { push: false }) {
  const query = queries.get(name);
  if (!query) return;
  saved.value = name;
  editor.setValue(query.sparql.endsWith("\n") ? query.sparql : `${query.sparql}\n`);
  savedDescription.textContent = query.description || "";
  showParameters(query);
  if (push) history.pushState(null, "", `${location.pathname}?saved=${encodeURIComponent(name)}`);
  updateDownloads();
}

saved.addEventListener("change", () => {
  if (saved.value) loadSaved(saved.value, { push: true });
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run();
});

paramsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  runSaved();
});

let downloadTimer = null;
editor.on("change", () => {
  clearTimeout(downloadTimer);
  downloadTimer = setTimeout(() => {
    updateDownloads();
    markEdited();
  }, 250);
});

window.addEventListener("popstate", () => {
  const name = new URLSearchParams(location.search).get("saved");
  if (name) loadSaved(name);
});

async function start() {
  editor.setValue(START);
  updateDownloads();
  try {
    const list = asList(await fetchJSON(appUrl("/api/queries")), "queries");
    queries = new Map(list.map((q) => [q.name, q]));
    saved.append(...list.map((q) => el("option", { value: q.name }, q.title || q.name)));
    const name = new URLSearchParams(location.search).get("saved");
    if (name) loadSaved(name);
  } catch (error) {
    savedDescription.textContent = `Saved queries are not available: ${error.message}`;
  }
}

start();
