// The Atlas dashboard: polls /v1/dashboard/snapshot with the credential from the URL
// fragment (a signed dashboard link) or the form, and draws it with plotly.
// Data is only ever inserted as text (textContent), never as HTML.
"use strict";

const STORAGE_KEY = "atlas-dashboard-credential";
const POLL_MS = Math.max(250, parseInt(document.body.dataset.pollMs, 10) || 3000);
const MARKER_COLOURS = {
  promoted: "#1b7f3b", rolled_back: "#b3261e", learning: "#7a5af5", first_served: "#0b6bcb",
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };
let credential = null;
let timer = null;
let refreshes = 0;

function $(id) { return document.getElementById(id); }

function takeCredential() {
  // The fragment never reaches the server; drop it from the address bar once read.
  const params = new URLSearchParams(window.location.hash.slice(1));
  const fromLink = params.get("token");
  if (fromLink) {
    sessionStorage.setItem(STORAGE_KEY, fromLink);
    history.replaceState(null, "", window.location.pathname);
    return fromLink;
  }
  return sessionStorage.getItem(STORAGE_KEY);
}

function fmt(value, digits) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function setStat(name, text, raw) {
  const el = document.querySelector(`[data-testid="stat-${name}"]`);
  el.textContent = text;
  el.dataset.value = raw === null || raw === undefined ? "" : String(raw);
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fillTable(id, rows, columns) {
  const body = $(id);
  body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    for (const [get, cls] of columns) cell(tr, get(item), cls);
    body.appendChild(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = columns.length;
    td.textContent = "none yet";
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function metricsChange(before, after) {
  // The figures both sides name first (a true before → after), then the rest; at most 6.
  before = before || {}; after = after || {};
  const both = Object.keys(after).filter((k) => k in before);
  const rest = Object.keys(after).filter((k) => !(k in before));
  const shown = [...both, ...rest].slice(0, 6);
  if (!shown.length) return "–";
  const text = shown.map((k) => (k in before
    ? `${k}: ${fmt(before[k], 3)} → ${fmt(after[k], 3)}` : `${k}: ${fmt(after[k], 3)}`));
  const more = Object.keys(after).length - shown.length;
  return text.join("; ") + (more > 0 ? ` (+${more} more)` : "");
}

function linesBy(rows, field, valueField) {
  const series = new Map();
  for (const row of rows) {
    if (row[valueField] === null || row[valueField] === undefined) continue;
    if (!series.has(row[field])) series.set(row[field], { x: [], y: [], n: [] });
    const s = series.get(row[field]);
    s.x.push(row.t); s.y.push(row[valueField]); s.n.push(row.interactions);
  }
  return series;
}

function layoutWith(markers, yTitle) {
  const shapes = [], annotations = [];
  for (const m of markers) {
    const colour = MARKER_COLOURS[m.kind] || "#5b6475";
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: m.t, x1: m.t, y0: 0, y1: 1,
                  line: { color: colour, width: 1, dash: "dot" } });
    annotations.push({ x: m.t, xref: "x", y: 1, yref: "paper", text: m.label, showarrow: false,
                       textangle: -90, xanchor: "right", yanchor: "top", font: { size: 10, color: colour } });
  }
  return {
    margin: { l: 50, r: 20, t: 10, b: 40 }, xaxis: { type: "date" },
    yaxis: { title: { text: yTitle }, range: [0, 1.05] }, shapes, annotations,
    legend: { orientation: "h" }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  };
}

function drawPerformance(snapshot) {
  const perf = snapshot.performance;
  const markers = snapshot.learning.markers;
  const traces = [];
  for (const [version, s] of linesBy(perf.over_time, "version", "mean_reward")) {
    traces.push({ type: "scatter", mode: "lines+markers", name: `reward · ${version}`,
                  x: s.x, y: s.y, customdata: s.n,
                  hovertemplate: "%{y:.3f} (%{customdata} interactions)<extra>%{fullData.name}</extra>" });
  }
  for (const [version, s] of linesBy(perf.over_time, "version", "accuracy")) {
    traces.push({ type: "scatter", mode: "lines+markers", name: `accuracy · ${version}`,
                  x: s.x, y: s.y, line: { dash: "dot" } });
  }
  Plotly.react($("chart-performance"), traces, layoutWith(markers, "mean reward / accuracy"), PLOT_CONFIG);
  const keyTraces = [];
  for (const [key, s] of linesBy(perf.over_time_by_key, "learning_key", "mean_reward")) {
    keyTraces.push({ type: "scatter", mode: "lines+markers", name: key, x: s.x, y: s.y });
  }
  Plotly.react($("chart-keys"), keyTraces, layoutWith(markers, "mean reward"), PLOT_CONFIG);
}

function drawFeedback(snapshot) {
  const fb = snapshot.feedback;
  const bars = {
    type: "bar", x: fb.by_kind.map((r) => (r.name ? `${r.kind} · ${r.name}` : r.kind)),
    y: fb.by_kind.map((r) => r.count), marker: { color: "#0b6bcb" },
  };
  const small = { margin: { l: 40, r: 10, t: 10, b: 60 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff" };
  Plotly.react($("chart-feedback"), [bars], small, PLOT_CONFIG);
  const hist = {
    type: "bar", x: fb.rating_histogram.map((b) => `${b.low.toFixed(1)}–${b.high.toFixed(1)}`),
    y: fb.rating_histogram.map((b) => b.count), marker: { color: "#7a5af5" },
  };
  Plotly.react($("chart-ratings"), [hist], small, PLOT_CONFIG);
}

function render(snapshot) {
  const totals = snapshot.performance.totals;
  $("tenant").textContent = `· ${snapshot.tenant}`;
  setStat("interactions", String(snapshot.counts.interactions), snapshot.counts.interactions);
  setStat("mean_reward", fmt(totals.mean_reward, 3), totals.mean_reward);
  setStat("accuracy", totals.labelled ? `${fmt(totals.accuracy, 3)} (${totals.labelled})` : "–", totals.accuracy);
  setStat("error_rate", fmt(totals.error_rate, 3), totals.error_rate);
  setStat("latency", `${fmt(totals.latency_p50_ms, 1)} / ${fmt(totals.latency_p99_ms, 1)}`, totals.latency_p50_ms);
  setStat("feedback", String(snapshot.counts.feedback), snapshot.counts.feedback);
  setStat("rewards", String(snapshot.counts.rewards), snapshot.counts.rewards);
  setStat("drift_alarms", String(snapshot.learning.alarm_total), snapshot.learning.alarm_total);
  drawPerformance(snapshot);
  drawFeedback(snapshot);
  const L = snapshot.learning;
  fillTable("rollouts", L.rollouts, [
    [(r) => r.family], [(r) => r.phase], [(r) => `${r.weight}%`], [(r) => r.candidate],
    [(r) => r.stable], [(r) => r.steps.length], [(r) => r.reason, "reason"],
  ]);
  fillTable("versions", L.versions, [
    [(v) => v.label], [(v) => v.kind], [(v) => v.status], [(v) => v.aliases.join(", ") || "–"],
    [(v) => v.created_at.slice(0, 19).replace("T", " ")],
  ]);
  fillTable("learning", L.recent_events, [
    [(e) => e.t.slice(0, 19).replace("T", " ")], [(e) => e.trigger], [(e) => e.learner],
    [(e) => e.outcome], [(e) => e.candidate], [(e) => metricsChange(e.metrics_before, e.metrics_after)],
    [(e) => e.reason, "reason"],
  ]);
  fillTable("alarms", L.drift_alarms, [
    [(e) => e.t.slice(0, 19).replace("T", " ")], [(e) => e.trigger], [(e) => e.outcome],
    [(e) => e.learning_key], [(e) => e.reason, "reason"],
  ]);
}

function showLogin(message) {
  clearTimeout(timer);
  $("content").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("status").textContent = "not signed in";
}

async function poll() {
  let answer;
  try {
    answer = await fetch("/v1/dashboard/snapshot", {
      headers: { Authorization: `Bearer ${credential}` }, cache: "no-store",
    });
  } catch (err) {
    $("status").textContent = `offline: ${err.message}; retrying`;
    $("status").className = "error";
    timer = setTimeout(poll, POLL_MS);
    return;
  }
  if (answer.status === 401 || answer.status === 403) {
    sessionStorage.removeItem(STORAGE_KEY);
    const body = await answer.json().catch(() => ({}));
    showLogin((body.error && body.error.message) || "not allowed");
    return;
  }
  if (answer.ok) {
    const snapshot = await answer.json();
    $("login").hidden = true;
    $("content").hidden = false;
    render(snapshot);
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    document.body.dataset.generatedAt = snapshot.generated_at;
    $("status").className = "";
    $("status").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
  } else {
    $("status").textContent = `server answered ${answer.status}; retrying`;
    $("status").className = "error";
  }
  timer = setTimeout(poll, POLL_MS);
}

function start() {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("credential").value.trim();
    if (!typed) return;
    credential = typed;
    sessionStorage.setItem(STORAGE_KEY, typed);
    $("credential").value = "";
    poll();
  });
  credential = takeCredential();
  if (credential) poll(); else showLogin("");
}

start();
