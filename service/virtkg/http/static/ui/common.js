// Shared helpers for the virtkg pages. Everything inserted into the page goes through el()
// (textContent and setAttribute): no innerHTML with data.

/** Create an element: el("a", {href: url, class: "x"}, "text", childNode, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes (and text/children). */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Where the service is mounted: "" at the site root, "/virtkg" behind a proxy at /virtkg/.
 * The page says so in <html data-root> (WSGI SCRIPT_NAME); every URL a script builds uses it. */
export const ROOT = document.documentElement.dataset.root || "";

/** A URL of this service from its path at the root: appUrl("/api/compare") -> "/virtkg/api/compare". */
export function appUrl(path) {
  return ROOT + path;
}

/** GET/POST JSON; throws an Error carrying the server's message on a non-2xx answer. */
export async function fetchJSON(url, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const resp = await fetch(url, { ...options, headers });
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const message = (body && (body.message || body.error)) || text || resp.statusText;
    const error = new Error(`${resp.status}: ${message}`);
    error.status = resp.status;
    throw error;
  }
  return body;
}

/** The list in an API answer, whether it is the body itself or under one key. */
export function asList(body, ...keys) {
  if (Array.isArray(body)) return body;
  for (const key of keys) if (body && Array.isArray(body[key])) return body[key];
  if (body && typeof body === "object") {
    const lists = Object.values(body).filter(Array.isArray);
    if (lists.length === 1) return lists[0];
  }
  return [];
}

const NUMERIC_DATATYPE = /#(?:decimal|double|float|integer|int|long|short|nonNegativeInteger|positiveInteger)$/;

/** Text of a fact value: {iri, label} or {literal, datatype[, language]} (the API's FactValue);
 * a numeric literal is shown as its number ("125.0" -> "125"). */
export function valueText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  if ("literal" in value) {
    const number = Number(value.literal);
    if (NUMERIC_DATATYPE.test(value.datatype || "") && Number.isFinite(number)) return String(number);
    return String(value.literal);
  }
  if (value.label) return value.label;
  if (value.iri) return shortIri(value.iri);
  return "";
}

/** The number in a fact value (null when it is not numeric). */
export function valueNumber(value) {
  if (value === null || value === undefined) return null;
  const raw = typeof value === "object" ? value.literal : value;
  if (raw === null || raw === undefined || raw === "" || typeof raw === "boolean") return null;
  const number = Number(raw);
  return Number.isFinite(number) ? number : null;
}

export function shortIri(iri) {
  return String(iri).split(/[#/]/).filter(Boolean).pop() || String(iri);
}

/** Sources without duplicates (same id and URL). */
export function uniqueSources(sources = []) {
  const seen = new Set();
  return sources.filter((source) => {
    const key = `${source.id}|${source.url}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Small source links: [S3] [S7] (each opening the cited document; one link per source id). */
export function sourceLinks(sources = []) {
  const byId = new Map();
  for (const source of uniqueSources(sources)) if (!byId.has(source.id)) byId.set(source.id, source);
  if (!byId.size) return el("span", { class: "no-source" }, "no source");
  const list = el("span", { class: "sources" });
  for (const [id, source] of byId) {
    const title = source.label || id;
    list.append(
      source.url
        ? el("a", { class: "source", href: source.url, title, rel: "noopener noreferrer", target: "_blank" }, id)
        : el("span", { class: "source", title }, id),
    );
  }
  return list;
}

/** Format a number for people (1193 -> "1,193", 2.3 -> "2.3", 0.005 -> "0.005"). */
export function formatNumber(value) {
  const number = Number(value);
  if (number !== 0 && Math.abs(number) < 1) return number.toLocaleString("en", { maximumSignificantDigits: 2 });
  return number.toLocaleString("en", { maximumFractionDigits: 2 });
}

export function setStatus(node, text) {
  node.textContent = text;
}

export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}
