// aibomdb dashboard: plain JS over the GraphQL API. Views live in the URL
// hash (#/search/…, #/package/…, #/deployment/…, #/advisory/…) so that a
// responder can share a link to what they see.
"use strict";

const $ = (sel) => document.querySelector(sel);
const results = $("#results");

async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json" };
  const token = sessionStorage.getItem("aibomdb-token");
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function link(view, arg, text) {
  return `<a href="#/${view}/${encodeURIComponent(arg)}">${esc(text ?? arg)}</a>`;
}

function table(headers, rows, cls = "") {
  return `<table class="${cls}"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

function vexBadge(m) {
  if (!m.vex) return m.open ? `<span class="badge open">open</span>` : "";
  const cls = m.vex.suppresses ? "suppressed" : m.vex.status === "UNDER_INVESTIGATION" ? "triage" : "open";
  const why = [m.vex.justification, m.vex.detail].filter(Boolean).join(": ");
  return `<span class="badge ${cls}" title="${esc(why)}">${esc(m.vex.state)}</span>`;
}

const SEVERITY_ORDER = { critical: 5, high: 4, medium: 3, low: 2, none: 1, unknown: 0 };

// Most urgent first: severity, then exploited (KEV), then EPSS, then those
// with a fix to move to; open before suppressed.
function byUrgency(a, b) {
  return (b.open - a.open) ||
    (SEVERITY_ORDER[b.severity] ?? 0) - (SEVERITY_ORDER[a.severity] ?? 0) ||
    (!!b.kev - !!a.kev) ||
    ((b.epss ?? -1) - (a.epss ?? -1)) ||
    ((b.fixed.length > 0) - (a.fixed.length > 0)) ||
    a.advisory.localeCompare(b.advisory) || a.package.localeCompare(b.package);
}

function severityCell(severity, score, unknownReason) {
  const text = esc(severity + (score != null ? ` ${score}` : ""));
  const why = severity === "unknown" && unknownReason
    ? `<br><span class="muted why-unknown">why unknown: ${esc(unknownReason)}</span>` : "";
  return `<span class="sev sev-${esc(severity)}">${text}</span>${why}`;
}

function matchesTable(matches, withDeployment) {
  if (!matches.length) return `<p class="muted">No advisory matches.</p>`;
  const head = (withDeployment ? ["deployment"] : []).concat(["package", "advisory", "aliases", "severity", "KEV / EPSS", "fixed in", "VEX"]);
  return table(head, [...matches].sort(byUrgency).map((m) => (withDeployment ? [link("deployment", m.deployment)] : []).concat([
    esc(m.package) + (m.viaSourceOf ? ` <span class="muted">(via source package ${esc(m.matchedName)})</span>` : ""),
    link("advisory", m.advisory),
    esc(m.aliases.join(" ")),
    severityCell(m.severity, m.score, m.unknownReason),
    (m.kev ? `<span class="badge open">KEV</span> ` : "") +
      (m.epss != null ? `<span class="muted epss">EPSS ${esc(m.epss)} (p${esc(Math.round(m.epssPercentile * 100))})</span>` : ""),
    m.fixed.length ? esc(m.fixed.join(" ")) : `<span class="muted">no fix</span>`,
    vexBadge(m),
  ])), "matches");
}

// The blast radius as a picture: one column per path depth (deployment,
// document, packages…, target), shared nodes drawn once.
function radiusSvg(hits) {
  const columns = [];
  const edges = new Set();
  const place = (depth, id, kind) => {
    columns[depth] ??= new Map();
    if (!columns[depth].has(id)) columns[depth].set(id, { kind, row: columns[depth].size });
    return `${depth}\u0000${id}`;
  };
  // Targets share the last column, whatever the path length.
  const last = Math.max(...hits.map((h) => h.path.length)) - 1;
  for (const h of hits) {
    const steps = h.path;
    let prev = null;
    steps.forEach((s, i) => {
      const isTarget = i === steps.length - 1 && s.kind === "package";
      const depth = isTarget ? last : i;
      const key = place(depth, s.id, isTarget ? "target" : s.kind);
      if (prev) edges.add(`${prev}\u0001${key}`);
      prev = key;
    });
  }
  const colW = 260, rowH = 28, boxW = 230, boxH = 20;
  const rows = Math.max(1, ...columns.map((c) => (c ? c.size : 0)));
  const width = Math.max(1, columns.length) * colW + 20;
  const height = rows * rowH + 20;
  const pos = (key) => {
    const [d, id] = key.split("\u0000");
    const n = columns[+d].get(id);
    return { x: 10 + +d * colW, y: 10 + n.row * rowH };
  };
  let svg = `<svg class="radius" role="img" aria-label="blast radius" viewBox="0 0 ${width} ${height}" style="height:${Math.min(height, 900)}px">`;
  for (const e of edges) {
    const [a, b] = e.split("\u0001").map(pos);
    svg += `<path d="M${a.x + boxW},${a.y + boxH / 2} C${a.x + boxW + 15},${a.y + boxH / 2} ${b.x - 15},${b.y + boxH / 2} ${b.x},${b.y + boxH / 2}"/>`;
  }
  columns.forEach((col, d) => {
    if (!col) return;
    for (const [id, n] of col) {
      const { x, y } = pos(`${d}\u0000${id}`);
      const short = n.kind === "document" ? id.replace(/^(\d+) \((?:.*[\/\\])?([^\/\\]*)\)$/, "#$1 $2") : id;
      const label = short.length > 36 ? short.slice(0, 35) + "…" : short;
      svg += `<g><title>${esc(id)}</title><rect class="${n.kind}" x="${x}" y="${y}" width="${boxW}" height="${boxH}" rx="3"/>` +
        `<text x="${x + 5}" y="${y + 14}">${esc(label)}</text></g>`;
    }
  });
  return svg + "</svg>";
}

// Ranked as `aibomdb search` ranks: packages named exactly so first, then
// by the deployments holding them. Opens a result only when it is the only
// one; otherwise the user picks.
async function showSearch(text) {
  $("#search").value = text;
  results.innerHTML = `<p class="muted">Searching…</p>`;
  const d = await gql(`query($t:String!){search(text:$t){packages{purl versions deployments exact} deployments advisories}}`, { t: text });
  const s = d.search;
  const total = s.packages.length + s.deployments.length + s.advisories.length;
  if (total === 1) {
    if (s.packages.length) location.replace(`#/package/${encodeURIComponent(s.packages[0].purl)}`);
    else if (s.deployments.length) location.replace(`#/deployment/${encodeURIComponent(s.deployments[0])}`);
    else location.replace(`#/advisory/${encodeURIComponent(s.advisories[0])}`);
    return;
  }
  let html = `<h2>Results for “${esc(text)}”</h2>`;
  if (!total) html += `<p class="muted">Nothing found: no package name starts with that, no deployment name contains it, no advisory is known by it.</p>`;
  html += `<h3>Packages</h3>` + (s.packages.length
    ? table(["package", "match", "deployments", "versions"], s.packages.map((p) => [
      link("package", p.purl), p.exact ? `<span class="badge suppressed">exact name</span>` : `<span class="muted">name starts with it</span>`,
      esc(p.deployments), esc(p.versions)]), "packages search-packages")
    : `<p class="muted">No package names start with that.</p>`);
  html += `<h3>Deployments</h3>` + (s.deployments.length
    ? `<ul class="search-deployments">${s.deployments.map((n) => `<li>${link("deployment", n)}</li>`).join("")}</ul>` : `<p class="muted">None.</p>`);
  html += `<h3>Advisories</h3>` + (s.advisories.length
    ? `<ul class="search-advisories">${s.advisories.map((n) => `<li>${link("advisory", n)}</li>`).join("")}</ul>` : `<p class="muted">None.</p>`);
  results.innerHTML = html;
}

// `pkg:pypi/transformers` → ecosystem + name for the range query.
function splitPurl(purl) {
  const m = /^pkg:([^/]+)\/(.+)$/.exec(purl);
  if (!m) return { ecosystem: null, name: purl };
  const parts = m[2].split("/");
  return { ecosystem: m[1], name: decodeURIComponent(parts[parts.length - 1]) };
}

async function renderRadius(container, purl, range) {
  const { ecosystem, name } = splitPurl(purl);
  container.innerHTML = `<h2>Blast radius of ${esc(purl)}</h2>
    <form class="controls" id="range-form"><label>version range <input name="range" value="${esc(range)}" placeholder="e.g. <4.38"></label>
    <button type="submit" class="secondary">Apply</button></form><div class="radius-body"><p class="muted">Loading…</p></div>`;
  container.querySelector("#range-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const r = new FormData(ev.target).get("range");
    location.hash = `#/package/${encodeURIComponent(purl)}/${encodeURIComponent(r)}`;
  });
  const body = container.querySelector(".radius-body");
  try {
    const d = await gql(`query($e:String,$n:String!,$r:String){deploymentsUsing(ecosystem:$e,name:$n,versionRange:$r,first:500){
        totalCount notes edges{node{deployment document documentPath package direct scope flags path{kind id via}}}}}`,
      { e: ecosystem, n: name, r: range || null });
    const conn = d.deploymentsUsing;
    const hits = conn.edges.map((e) => e.node);
    const deployments = [...new Set(hits.map((h) => h.deployment))];
    let html = `<p><strong>${deployments.length}</strong> deployment(s), ${conn.totalCount} document hit(s)${range ? ` for versions ${esc(range)}` : ""}.</p>`;
    if (conn.notes.length) html += `<p class="muted">Left out: ${esc(conn.notes.join("; "))}</p>`;
    html += table(["deployment", "package", "relation", "document", "path"], hits.map((h) => [
      link("deployment", h.deployment),
      esc(h.package),
      esc(h.direct === true ? "direct" : h.direct === false ? "transitive" : "not stated") + (h.flags.length ? ` <span class="muted">${esc(h.flags.join(", "))}</span>` : ""),
      `<span class="muted">${esc(h.documentPath)}</span>`,
      `<span class="path">${h.path.slice(2).map((s) => esc(s.id)).join(" → ")}</span>`,
    ]), "hits");
    if (hits.length) html += `<h2>Picture</h2>` + radiusSvg(hits);
    body.innerHTML = html;
  } catch (e) {
    body.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
}

// Columns by lineage level: bases and datasets on the left, the model in the
// middle, what was derived from it on the right; edges carry the relation.
function lineageSvg(g) {
  const levels = [...new Set(g.nodes.map((n) => n.level))].sort((a, b) => a - b);
  const col = new Map(levels.map((l, i) => [l, i]));
  const rowsIn = new Map();
  const at = new Map();
  for (const n of g.nodes) {
    const c = col.get(n.level);
    const r = rowsIn.get(c) ?? 0;
    rowsIn.set(c, r + 1);
    at.set(n.purl, { c, r, n });
  }
  const colW = 400, rowH = 40, boxW = 270, boxH = 22;
  const width = Math.max(1, levels.length) * colW - (colW - boxW) + 20;
  const height = Math.max(1, ...rowsIn.values()) * rowH + 10;
  const xy = (p) => { const a = at.get(p); return { x: 10 + a.c * colW, y: 10 + a.r * rowH }; };
  // Drawn at its natural size (scaled down only when wider than the page).
  let svg = `<svg class="radius lineage" role="img" aria-label="model lineage" viewBox="0 0 ${width} ${height}" style="width:${width}px;max-width:100%;height:auto">`;
  for (const l of g.links) {
    if (!at.has(l.from) || !at.has(l.to)) continue;
    // An edge points from the derived model to its base (or dataset): draw base → derived.
    const a = xy(l.to), b = xy(l.from);
    const [x1, y1, x2, y2] = [a.x + boxW, a.y + boxH / 2, b.x, b.y + boxH / 2];
    svg += `<path class="${esc(l.relation.replace(/[^a-z_]/g, "-"))}" d="M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}"/>` +
      `<text class="relation" x="${x1 + 8}" y="${y1 - 4}">${esc(l.relation.replace(/^derived_from:/, ""))}</text>`;
  }
  for (const { n } of at.values()) {
    const { x, y } = xy(n.purl);
    const cls = g.roots.includes(n.purl) ? "target" : n.node === "dataset" ? "document" : "package";
    const label = `${n.name}${n.kind ? ` (${n.kind})` : ""}`;
    svg += `<g><title>${esc(n.purl)}</title><rect class="${cls}" x="${x}" y="${y}" width="${boxW}" height="${boxH}" rx="3"/>` +
      `<text x="${x + 5}" y="${y + 15}">${esc(label.length > 40 ? label.slice(0, 39) + "…" : label)}</text></g>`;
  }
  return svg + "</svg>";
}

async function showDeployment(name) {
  results.innerHTML = `<p class="muted">Loading…</p>`;
  const d = await gql(`query($n:String!){deployment(name:$n){name
      documents(history:true){id format tool path current supersededBy packages edges}
      packages(first:1000){totalCount edges{node{purl version direct flags}}}
      models{purl kind derivedFrom{relation purl} trainedOn signing{status signer} approval{state} findings{kind message}}
      advisories{deployment package advisory aliases severity unknownReason score epss epssPercentile kev{cve} fixed status viaSourceOf matchedName open
        vex{status state justification detail suppresses}}
      releases{name sequence createdAt approvedBy forced gate{policy passed failedRules} models{purl} images
        runners{name version} evals{kind metrics{task metric value}}}
      rollbackTarget{name createdAt images models{purl files{path sha256}}}
      drift{release observation observedAt drifted differences{kind subject released observed}}}}`, { n: name });
  if (!d.deployment) { results.innerHTML = `<p class="error">No deployment named ${esc(name)}.</p>`; return; }
  const dep = d.deployment;
  let html = `<h2>Deployment ${esc(dep.name)}</h2>
    <p><a class="download" href="/deployments/${encodeURIComponent(dep.name)}/sbom.cdx.json" download>Download SBOM (CycloneDX 1.6)</a>
      · ${[["cyclonedx-1.5", "CycloneDX 1.5"], ["spdx-2.3", "SPDX 2.3"], ["openvex", "OpenVEX"], ["cyclonedx-vex", "CycloneDX VEX"]]
        .map(([f, label]) => `<a class="export" href="/deployments/${encodeURIComponent(dep.name)}/export/${f}" download>${label}</a>`).join(" · ")}
      · <a class="cra" href="/deployments/${encodeURIComponent(dep.name)}/cra-report.html">TR-03183-2 completeness report</a></p>`;
  html += await gateSections(dep.name);
  html += releaseSections(dep);
  html += `<h2>Documents</h2>` + table(["id", "format", "tool", "packages", "edges", "current", "path"], dep.documents.map((x) => [
    esc(x.id), esc(x.format), esc(x.tool ?? ""), esc(x.packages), esc(x.edges), x.current ? "yes" : `superseded by ${esc(x.supersededBy)}`, `<span class="muted">${esc(x.path)}</span>`,
  ]), "documents");
  if (dep.models.length) {
    html += `<h2>Models</h2>` + table(["model", "kind", "derived from", "trained on", "signature", "approval", "findings"], dep.models.map((m) => [
      link("lineage", m.purl, m.purl),
      esc(m.kind ?? ""),
      m.derivedFrom.map((l) => `${esc(l.relation)}: ${link("package", l.purl.replace(/@[^@]*$/, ""), l.purl)}`).join("<br>"),
      m.trainedOn.map((d) => esc(d)).join("<br>"),
      esc(m.signing ? m.signing.status + (m.signing.signer ? ` (${m.signing.signer})` : "") : "none"),
      esc(m.approval.state),
      m.findings.map((f) => `<span class="badge open">${esc(f.kind)}</span> ${esc(f.message)}`).join("<br>"),
    ]), "models");
    // One lineage picture per model (bases and datasets left, derivatives right).
    const shown = [...new Set(dep.models.map((m) => m.purl))].slice(0, 12);
    const graphs = await Promise.all(shown.map((p) => gql(`query($m:String!){lineage(model:$m, direction:BOTH, depth:4){
        roots nodes{purl name node kind level} links{from to relation}}}`, { m: p })));
    html += `<h2>Model lineage</h2>` + graphs.map((g) => lineageSvg(g.lineage)).join("");
  }
  html += `<h2>Advisories</h2>` + matchesTable(dep.advisories, false);
  const depGraph = await dependencyGraphSection(dep.name);
  html += depGraph.html;
  const pk = dep.packages;
  html += `<h2>Packages (${pk.totalCount})</h2>` + table(["package", "relation", "flags"], pk.edges.map(({ node: p }) => [
    link("package", p.purl.replace(/@[^@]*$/, ""), p.purl),
    esc(p.direct === true ? "direct" : p.direct === false ? "transitive" : ""),
    esc(p.flags.join(", ")),
  ]), "packages");
  results.innerHTML = html;
  if (depGraph.graph) drawDependencyGraph(results, depGraph.graph);
}

// A deployment's dependency graph: one column per depth from the roots,
// vulnerable packages and every edge on a path to them in red. Drag to pan,
// wheel or the buttons to zoom; a click (or Enter) on a package collapses
// what only it brings in. Positions are laid out once, so collapsing never
// moves what stays.
async function dependencyGraphSection(name) {
  const { dependencyGraph: g } = await gql(`query($d:String!){dependencyGraph(deployment:$d, maxNodes:800){
      nodes{id purl vulnerable onVulnerablePath depth} edges{from to} roots totalNodes truncated}}`, { d: name });
  if (!g || !g.nodes.length) return { html: `<h2>Dependency graph</h2><p class="muted">The current documents list no package.</p>`, graph: null };
  const vulnerable = g.nodes.filter((n) => n.vulnerable).length;
  const html = `<h2>Dependency graph</h2>
    <p>${g.nodes.length} of ${g.totalNodes} packages${g.truncated ? " (cut: paths to vulnerable packages kept first)" : ""},
      <b class="graph-vulnerable-count">${vulnerable}</b> vulnerable, shown in red with every path to them.
      <span class="muted">Drag to pan, wheel or buttons to zoom; click or press Enter on a package to collapse or expand what it brings in.</span></p>
    <div class="controls graph-controls">
      <button type="button" class="secondary" data-zoom="0.8" aria-label="Zoom in">+</button>
      <button type="button" class="secondary" data-zoom="1.25" aria-label="Zoom out">−</button>
      <button type="button" class="secondary" data-zoom="whole">Whole graph</button>
      <label><input type="checkbox" class="only-vulnerable"> only paths to vulnerable packages</label>
    </div>
    <svg class="depgraph" role="group" aria-label="dependency graph of ${esc(name)}"></svg>`;
  return { html, graph: g };
}

function drawDependencyGraph(container, g) {
  const svg = container.querySelector("svg.depgraph");
  if (!svg) return;
  const colW = 280, rowH = 26, boxW = 250, boxH = 20;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const children = new Map();
  for (const e of g.edges) {
    if (!children.has(e.from)) children.set(e.from, []);
    children.get(e.from).push(e.to);
  }
  // One column per depth; a depth with more than `perColumn` packages (an
  // SBOM that states no edges lists hundreds of roots) wraps into several
  // columns, so a graph of hundreds of nodes stays wide rather than
  // thousands of pixels tall.
  const perColumn = 30;
  const byDepth = new Map();
  for (const n of [...g.nodes].sort((a, b) => (b.onVulnerablePath - a.onVulnerablePath) || a.purl.localeCompare(b.purl))) {
    if (!byDepth.has(n.depth)) byDepth.set(n.depth, []);
    byDepth.get(n.depth).push(n);
  }
  let column = 0, tallest = 0;
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    const list = byDepth.get(depth);
    const wraps = Math.ceil(list.length / perColumn);
    const rows = Math.ceil(list.length / wraps);
    list.forEach((n, i) => {
      n.x = 10 + (column + Math.floor(i / rows)) * colW;
      n.y = 10 + (i % rows) * rowH;
    });
    column += wraps;
    tallest = Math.max(tallest, rows);
  }
  const width = column * colW + 20;
  const height = tallest * rowH + 20;
  const home = { x: 0, y: 0, w: Math.min(width, 1400), h: Math.min(height, 700) };
  let view = { ...home };
  const setView = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  svg.style.height = `${Math.min(height, 700)}px`;
  const collapsed = new Set();
  const onlyVulnerable = container.querySelector(".only-vulnerable");
  const starts = new Set(g.roots);
  // Packages no root reaches (on a cycle) start a walk of their own.
  const reach = new Set();
  const walk = (ids, into, skipCollapsed) => {
    const stack = [...ids];
    while (stack.length) {
      const id = stack.pop();
      if (into.has(id)) continue;
      into.add(id);
      if (skipCollapsed && collapsed.has(id)) continue;
      for (const c of children.get(id) ?? []) stack.push(c);
    }
  };
  walk(g.roots, reach, false);
  for (const n of g.nodes) if (!reach.has(n.id)) { starts.add(n.id); walk([n.id], reach, false); }
  const render = () => {
    const visible = new Set();
    walk(starts, visible, true);
    const shown = (n) => visible.has(n.id) && (!onlyVulnerable.checked || n.onVulnerablePath);
    let out = "";
    for (const e of g.edges) {
      const a = byId.get(e.from), b = byId.get(e.to);
      if (!shown(a) || !shown(b) || collapsed.has(a.id)) continue;
      const hot = a.onVulnerablePath && b.onVulnerablePath;
      out += `<path class="${hot ? "hot" : ""}" d="M${a.x + boxW},${a.y + boxH / 2} C${a.x + boxW + 20},${a.y + boxH / 2} ${b.x - 20},${b.y + boxH / 2} ${b.x},${b.y + boxH / 2}"/>`;
    }
    for (const n of g.nodes) {
      if (!shown(n)) continue;
      const hidden = collapsed.has(n.id) && (children.get(n.id) ?? []).length;
      const cls = n.vulnerable ? "vulnerable" : n.onVulnerablePath ? "on-path" : "package";
      const label = n.purl.replace(/^pkg:/, "");
      out += `<g class="node" tabindex="0" role="button" aria-pressed="${hidden ? "true" : "false"}" data-id="${n.id}" data-depth="${n.depth}" data-children="${(children.get(n.id) ?? []).length}" data-purl="${esc(n.purl)}" data-vulnerable="${n.vulnerable}">
        <title>${esc(n.purl)}${n.vulnerable ? " (vulnerable)" : ""}</title>
        <rect class="${cls}" x="${n.x}" y="${n.y}" width="${boxW}" height="${boxH}" rx="3"/>
        <text x="${n.x + 5}" y="${n.y + 14}">${hidden ? "▸ " : ""}${esc(label.length > 38 ? label.slice(0, 37) + "…" : label)}</text></g>`;
    }
    svg.innerHTML = out;
  };
  const toggle = (id) => { collapsed.has(id) ? collapsed.delete(id) : collapsed.add(id); render(); svg.querySelector(`g[data-id="${id}"]`)?.focus(); };
  svg.addEventListener("click", (ev) => { const n = ev.target.closest("g.node"); if (n && !dragged) toggle(Number(n.dataset.id)); });
  svg.addEventListener("keydown", (ev) => {
    const n = ev.target.closest("g.node");
    if (n && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); toggle(Number(n.dataset.id)); }
  });
  const zoom = (factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) => {
    view = { x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor, w: view.w * factor, h: view.h * factor };
    setView();
  };
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    zoom(ev.deltaY > 0 ? 1.15 : 0.87, view.x + ((ev.clientX - r.left) / r.width) * view.w, view.y + ((ev.clientY - r.top) / r.height) * view.h);
  }, { passive: false });
  let drag = null, dragged = false;
  svg.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, view: { ...view } }; dragged = false; });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    const dx = ((ev.clientX - drag.x) / r.width) * view.w, dy = ((ev.clientY - drag.y) / r.height) * view.h;
    if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) dragged = true;
    view = { ...view, x: drag.view.x - dx, y: drag.view.y - dy };
    setView();
  });
  const endDrag = () => { drag = null; setTimeout(() => { dragged = false; }, 0); };
  svg.addEventListener("pointerup", endDrag);
  // Released outside the picture: the drag ends there, not at the next move.
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("pointerleave", endDrag);
  for (const b of container.querySelectorAll(".graph-controls button")) {
    b.addEventListener("click", () => { if (b.dataset.zoom === "whole") { view = { x: 0, y: 0, w: width, h: height }; setView(); } else zoom(Number(b.dataset.zoom)); });
  }
  onlyVulnerable.addEventListener("change", render);
  setView();
  render();
}

// What was released (newest first), what runs now against the latest
// release, and what to roll back to.
function releaseSections(dep) {
  if (!dep.releases.length) {
    return `<h2>Releases</h2><p class="muted">No release yet: <code>aibomdb release create --deployment ${esc(dep.name)} --name NAME</code>.</p>`;
  }
  const gate = (r) => !r.gate ? "—" : r.forced
    ? `<span class="badge open">forced</span> past ${esc(r.gate.failedRules.join(", "))}: ${esc(r.forced)}`
    : `<span class="badge ${r.gate.passed ? "suppressed" : "open"}">${r.gate.passed ? "passed" : "failed"}</span> ${esc(r.gate.policy)}`;
  let html = `<h2>Releases</h2>` + table(["#", "release", "created", "approved by", "gate", "models", "images", "runners", "metrics"],
    [...dep.releases].reverse().map((r) => [
      esc(r.sequence), `<b>${esc(r.name)}</b>`, esc(r.createdAt), esc(r.approvedBy ?? ""), gate(r),
      r.models.map((m) => esc(m.purl)).join("<br>"), r.images.map((i) => esc(i)).join("<br>"),
      r.runners.map((x) => esc(`${x.name}==${x.version}`)).join("<br>"),
      r.evals.flatMap((e) => e.metrics.slice(0, 4).map((m) => esc(`${m.task ? m.task + " " : ""}${m.metric} ${m.value}`))).join("<br>"),
    ]), "releases");
  const d = dep.drift;
  html += `<h2>Running now</h2>` + (!d
    ? `<p class="muted">No observation yet (<code>aibomdb observe</code>, <code>POST /v1/observations</code>).</p>`
    : `<p class="drift-verdict">Observation ${esc(d.observation)} (${esc(d.observedAt)}) against release <b>${esc(d.release)}</b>:
        <span class="badge verdict ${d.drifted ? "open" : "suppressed"}">${d.drifted ? "drift" : "as released"}</span></p>` +
      (d.differences.length ? table(["difference", "subject", "released", "observed"], d.differences.map((x) => [
        esc(x.kind), esc(x.subject), esc(x.released ?? ""), esc(x.observed ?? "")]), "drift") : ""));
  const t = dep.rollbackTarget;
  html += `<h2>Rollback target</h2>` + (!t
    ? `<p class="muted">None: no release before the current one that was not forced past its gate.</p>`
    : `<p class="rollback">Release <b>${esc(t.name)}</b> (${esc(t.createdAt)})</p>` +
      table(["what", "digest"], [...t.images.map((i) => ["image", esc(i)]),
        ...t.models.flatMap((m) => m.files.map((f) => [esc(`${m.purl} ${f.path}`), esc(f.sha256)]))], "rollback"));
  return html;
}

// The deployment under every stored policy: its verdict, each rule's outcome,
// and each offending node with the path that brings it in.
async function gateSections(name) {
  const { policies } = await gql(`{policies{name}}`);
  if (!policies.length) {
    return `<h2>Gate</h2><p class="muted">No stored policy: <code>aibomdb policy add NAME FILE</code> puts one here.</p>`;
  }
  const verdicts = await Promise.all(policies.map((p) => gql(`query($d:String!,$p:String!){gate(deployment:$d, stored:$p){
      policy at passed rules{rule level outcome summary violations{level subject message document path{kind id}} waived{subject reason expires}}}}`,
    { d: name, p: p.name }).then((r) => [p.name, r.gate])));
  return verdicts.map(([policy, g]) => {
    const rows = g.rules.map((r) => [esc(r.rule), esc(r.level), `<span class="badge ${r.outcome === "fail" ? "open" : r.outcome === "warn" ? "triage" : "suppressed"}">${esc(r.outcome)}</span>`, esc(r.summary)]);
    const items = g.rules.flatMap((r) => r.violations.slice(0, 50).map((v) => {
      const path = v.path.map((s) => s.kind === "package" ? link("package", s.id.replace(/@[^@]*$/, ""), s.id) : esc(s.id)).join(" → ");
      return `<li data-rule="${esc(r.rule)}" data-subject="${esc(v.subject)}"><span class="badge ${v.level === "deny" ? "open" : "triage"}">${esc(v.level)}</span>
        <b>${esc(r.rule)}</b> ${esc(v.subject)}: ${esc(v.message)}${path ? `<br><span class="muted">${path}</span>` : ""}</li>`;
    }));
    const more = g.rules.reduce((n, r) => n + Math.max(0, r.violations.length - 50), 0);
    return `<h2>Gate: ${esc(policy)} <span class="badge verdict ${g.passed ? "suppressed" : "open"}">${g.passed ? "may ship" : "blocked"}</span></h2>
      <p class="muted">as of ${esc(g.at)}</p>` + table(["rule", "level", "outcome", "summary"], rows, "gate") +
      (items.length ? `<ul class="violations">${items.join("")}</ul>` : "") + (more ? `<p class="muted">… ${more} more (aibomdb gate --format json)</p>` : "");
  }).join("");
}

async function showAdvisory(id) {
  results.innerHTML = `<p class="muted">Loading…</p>`;
  const d = await gql(`query($a:String!){affected(advisory:$a){advisories deployments
      matches{deployment package advisory aliases severity unknownReason score epss epssPercentile kev{cve} fixed status viaSourceOf matchedName open vex{status state justification detail suppresses}}}}`, { a: id });
  if (!d.affected) { results.innerHTML = `<p class="error">No loaded advisory is known as ${esc(id)}.</p>`; return; }
  const a = d.affected;
  const open = a.matches.filter((m) => m.open).length;
  results.innerHTML = `<h2>${esc(id)}</h2><p>Records: ${esc(a.advisories.join(", "))}. ${a.deployments.length} deployment(s), ${a.matches.length} match(es), ${open} open.</p>` +
    matchesTable(a.matches, true);
}

const SEVERITIES = ["critical", "high", "medium", "low", "unknown"];

// Matched advisories by severity as one stacked bar (own SVG: no library,
// works offline), each part labelled for screen readers.
function severityBar(counts) {
  const total = SEVERITIES.reduce((n, k) => n + counts[k], 0);
  if (!total) return `<p class="muted">No advisory is open anywhere.</p>`;
  let x = 0;
  const parts = SEVERITIES.filter((k) => counts[k]).map((k) => {
    const w = (counts[k] / total) * 100;
    const part = `<rect class="sev-fill-${k}" x="${x}%" y="0" width="${w}%" height="100%"><title>${k}: ${counts[k]}</title></rect>`;
    x += w;
    return part;
  }).join("");
  const label = SEVERITIES.map((k) => `${counts[k]} ${k}`).join(", ");
  return `<svg class="severity-bar" role="img" aria-label="matched advisories by severity: ${esc(label)}" width="100%" height="18">${parts}</svg>
    <ul class="legend">${SEVERITIES.map((k) => `<li><span class="swatch sev-fill-${k}"></span>${k} <b data-severity="${k}">${counts[k]}</b></li>`).join("")}</ul>`;
}

async function showOverview() {
  results.innerHTML = `<p class="muted">Loading…</p>`;
  const d = await gql(`{overview(top:10){
      counts{deployments documents packages models datasets advisoriesLoaded}
      advisoriesBySeverity{critical high medium low unknown}
      kevAdvisories matchedAdvisories openPairs suppressedPairs exposedDeployments ranking
      topExposures{rank advisory aliases summary severity unknownReason score kev epss openDeployments suppressedDeployments fixAvailable packages packageCount}
      riskiestDeployments{risk deployment open critical high medium low unknown kev suppressed}
      modelsWithFindings{purl deployments deploymentCount kinds findings}
      recentDocuments{id deployment format path ingestedAt current}
      recentSyncs{feed at}}
    policies{name}}`);
  const o = d.overview;
  const c = o.counts;
  const card = (key, label, value, href) => `<div class="card" data-count="${key}"><span class="value">${href ? `<a href="${href}">${esc(value)}</a>` : esc(value)}</span><span class="label">${esc(label)}</span></div>`;
  let html = `<h2>Estate overview</h2><div class="cards">` +
    card("deployments", "deployments", c.deployments, "#/deployments") + card("documents", "current documents", c.documents) +
    card("packages", "packages", c.packages) + card("models", "models", c.models) + card("datasets", "datasets", c.datasets) +
    card("matched", "advisories matched", o.matchedAdvisories) + card("kev", "in KEV (open)", o.kevAdvisories) +
    card("open", "open (deployment, advisory)", o.openPairs) + card("suppressed", "suppressed by VEX", o.suppressedPairs) + `</div>`;
  html += `<h3>Open advisories by severity</h3>` + severityBar(o.advisoriesBySeverity);
  // The history counts as `aibomdb timeline` does: matches whose version is
  // known affected, a pair resolved once a VEX statement settles it; the
  // "open" card above also counts versions that could not be ordered.
  html += `<h3>Exposure over the last 30 days</h3><p class="muted">(deployment, advisory) pairs with a version known to be affected and not resolved by VEX, as <code>aibomdb timeline</code> counts them.</p><div class="history"><p class="muted">Loading…</p></div>`;
  html += `<h3>Top exposures</h3><p class="muted ranking">Ranked by ${esc(o.ranking)}.</p>` + (o.topExposures.length
    ? table(["rank", "advisory", "severity", "KEV / EPSS", "deployments", "suppressed", "fix", "packages"], o.topExposures.map((e) => [
      esc(e.rank), link("advisory", e.advisory) + (e.summary ? `<br><span class="muted">${esc(e.summary)}</span>` : ""),
      severityCell(e.severity, e.score, e.unknownReason),
      (e.kev ? `<span class="badge open">KEV</span> ` : "") + (e.epss != null ? `<span class="muted">EPSS ${esc(e.epss)}</span>` : ""),
      esc(e.openDeployments), esc(e.suppressedDeployments), e.fixAvailable ? "yes" : `<span class="muted">no fix</span>`,
      e.packages.slice(0, 4).map((p) => link("package", p.replace(/@[^@/]*$/, ""), p)).join("<br>") + (e.packageCount > 4 ? `<br><span class="muted">+${e.packageCount - 4} more</span>` : ""),
    ]), "exposures") : `<p class="muted">No open advisory.</p>`);
  const policy = d.policies.length ? d.policies[0].name : null;
  html += `<h3>Riskiest deployments</h3>` + (o.riskiestDeployments.length
    ? table(["risk", "deployment", "open", "critical", "high", "medium", "low", "unknown", "KEV", policy ? `gate (${policy})` : "gate"],
      o.riskiestDeployments.map((r) => [esc(r.risk), link("deployment", r.deployment), esc(r.open), esc(r.critical), esc(r.high), esc(r.medium),
        esc(r.low), esc(r.unknown), esc(r.kev),
        policy ? `<span class="gate-verdict muted" data-deployment="${esc(r.deployment)}">…</span>` : `<span class="muted">no stored policy</span>`]), "riskiest")
    : `<p class="muted">No deployment has an open advisory.</p>`);
  if (o.modelsWithFindings.length) {
    html += `<h3>Models with findings</h3>` + table(["model", "findings", "kinds", "deployments"], o.modelsWithFindings.map((m) => [
      link("lineage", m.purl.replace(/@[^@/]*$/, ""), m.purl), esc(m.findings), m.kinds.map((k) => `<span class="badge open">${esc(k)}</span>`).join(" "),
      m.deployments.map((x) => link("deployment", x)).join(", ") + (m.deploymentCount > m.deployments.length ? ` <span class="muted">+${m.deploymentCount - m.deployments.length} more</span>` : "")]), "findings");
  }
  html += `<div class="columns"><section><h3>Recent ingests</h3>` + table(["ingested", "deployment", "format", "document"], o.recentDocuments.map((x) => [
    esc(x.ingestedAt), link("deployment", x.deployment), esc(x.format), `<span class="muted">#${esc(x.id)} ${esc(x.path)}</span>${x.current ? "" : " (superseded)"}`]), "recent") +
    `</section><section><h3>Recent syncs</h3>` + (o.recentSyncs.length
      ? table(["at", "feed"], o.recentSyncs.map((x) => [esc(x.at), esc(x.feed)]), "syncs")
      : `<p class="muted">No feed synced yet (<code>aibomdb advisories sync</code>).</p>`) + `</section></div>`;
  results.innerHTML = html;
  // When the overview is on screen, for the browser test's timing.
  performance.mark("overview-rendered");
  // The history walks every deployment's documents: asked for after the
  // overview is on screen, so it never holds the first answer back.
  gql(`{exposureHistory(days:30){at open}}`)
    .then(({ exposureHistory }) => { results.querySelector(".history").innerHTML = exposureChart(exposureHistory); })
    .catch((e) => { results.querySelector(".history").innerHTML = `<p class="error">${esc(e.message)}</p>`; });
  // Each verdict on its own: a slow gate never holds the overview back.
  if (policy) {
    for (const span of results.querySelectorAll(".gate-verdict")) {
      gql(`query($d:String!,$p:String!){gate(deployment:$d, stored:$p){passed rules{rule outcome}}}`, { d: span.dataset.deployment, p: policy })
        .then(({ gate }) => {
          const failed = gate.rules.filter((r) => r.outcome === "fail").map((r) => r.rule);
          span.className = `gate-verdict badge ${gate.passed ? "suppressed" : "open"}`;
          span.textContent = gate.passed ? "may ship" : "blocked";
          span.title = failed.length ? `failed: ${failed.join(", ")}` : "every deny rule passes";
        })
        .catch((e) => { span.textContent = "error"; span.title = e.message; });
    }
  }
}

// Open (deployment, advisory) pairs per day as an area chart (own SVG), the
// figures also in a table for screen readers.
function exposureChart(points) {
  if (!points.length) return `<p class="muted">No history.</p>`;
  const w = 600, h = 120, pad = 24;
  const max = Math.max(1, ...points.map((p) => p.open));
  const x = (i) => pad + (i / Math.max(1, points.length - 1)) * (w - 2 * pad);
  const y = (v) => h - pad - (v / max) * (h - 2 * pad);
  const line = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.open).toFixed(1)}`).join(" ");
  const area = `${line} L${x(points.length - 1).toFixed(1)},${h - pad} L${pad},${h - pad} Z`;
  const last = points[points.length - 1];
  return `<svg class="exposure-chart" role="img" viewBox="0 0 ${w} ${h}" aria-label="open exposures from ${esc(points[0].at)} (${points[0].open}) to now (${last.open})">
      <path class="area" d="${area}"/><path class="line" d="${line}"/>
      <text x="${pad}" y="${h - 6}">${esc(points[0].at.slice(0, 10))}</text>
      <text x="${w - pad}" y="${h - 6}" text-anchor="end">now: <tspan class="now" data-open="${last.open}">${last.open}</tspan> open</text>
      <text x="${pad}" y="14">${max}</text>
    </svg>
    <details><summary>Figures</summary>${table(["at", "open"], points.map((p) => [esc(p.at), esc(p.open)]), "history")}</details>`;
}

async function showDeployments() {
  const d = await gql(`{deployments}`);
  results.innerHTML = `<h2>Deployments (${d.deployments.length})</h2><ul class="deployments">${d.deployments.map((n) => `<li>${link("deployment", n)}</li>`).join("")}</ul>`;
}

// From a base model: every fine-tune, adapter, quantisation and merge across
// the estate, and the deployments running each.
async function showLineage(model) {
  results.innerHTML = `<p class="muted">Loading…</p>`;
  const d = await gql(`query($m:String!){lineage(model:$m, direction:DOWN, depth:8){roots nodes{purl name node kind level} links{from to relation}}
      deploymentsRunning(model:$m, includeDerived:true){model lineage hit{deployment document documentPath}}}`, { m: model });
  const g = d.lineage;
  const running = d.deploymentsRunning;
  let html = `<h2>Lineage of ${esc(model)}</h2>
    <p>${g.nodes.length - g.roots.length} derived model(s), ${new Set(running.map((r) => r.hit.deployment)).size} deployment(s) running it or one derived from it.</p>`;
  html += g.nodes.length ? lineageSvg(g) : `<p class="muted">No document describes or derives from this model.</p>`;
  const derived = g.nodes.filter((n) => !g.roots.includes(n.purl)).sort((a, b) => a.level - b.level || a.purl.localeCompare(b.purl));
  html += `<h3>Derived models</h3>` + (derived.length ? table(["model", "kind", "hops", "derived from"], derived.map((n) => [
    link("lineage", n.purl), esc(n.kind ?? n.node), esc(n.level),
    g.links.filter((l) => l.from === n.purl).map((l) => `${esc(l.relation.replace(/^derived_from:/, ""))} ${esc(l.to)}`).join("<br>"),
  ]), "derived") : `<p class="muted">None.</p>`);
  html += `<h3>Deployments running it</h3>` + (running.length ? table(["deployment", "model", "lineage", "document"], running.map((r) => [
    link("deployment", r.hit.deployment), esc(r.model), esc(r.lineage.join(" → ")), `<span class="muted">${esc(r.hit.documentPath)}</span>`,
  ]), "running") : `<p class="muted">No current document runs it.</p>`);
  results.innerHTML = html;
}

async function route(ev) {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [view, ...args] = parts;
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${view ?? ""}`);
  }
  try {
    if (view === "search" && args[0]) await showSearch(args[0]);
    else if (view === "package" && args[0]) {
      // Each part was encoded whole, so a purl's slashes arrive as one part.
      await renderRadius(results, args[0], args[1] ?? "");
    } else if (view === "deployment" && args[0]) await showDeployment(args[0]);
    else if (view === "advisory" && args[0]) await showAdvisory(args[0]);
    else if (view === "lineage" && args[0]) await showLineage(args[0]);
    else if (view === "deployments") await showDeployments();
    else await showOverview();
  } catch (e) {
    results.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
  // Keyboard users land on the new view's heading after a navigation (on
  // the first load the skip link stays their first stop).
  const h = results.querySelector("h2");
  if (ev && ev.type === "hashchange" && h && document.activeElement && !results.contains(document.activeElement) && document.activeElement.id !== "search") {
    h.tabIndex = -1;
    h.focus({ preventScroll: true });
  }
}

$("#search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("#search").value.trim();
  if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
});
window.addEventListener("hashchange", route);
route();
startLive();

// Live changes: the `matchEvents` subscription over graphql-transport-ws
// (the protocol is four message types; no client library needed). Each event
// is listed, and the view on screen is redrawn when the event concerns it.
// The newest event shown: a reconnect resumes after it, so nothing committed
// while the socket was down is missed.
let lastEvent = null;

function startLive(delay = 1000) {
  const status = $("#live-status");
  const list = $("#live-events");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/graphql/ws`, "graphql-transport-ws");
  } catch (e) {
    status.textContent = "unavailable";
    return;
  }
  let redraw = null;
  ws.onopen = () => {
    const token = sessionStorage.getItem("aibomdb-token");
    ws.send(JSON.stringify({ type: "connection_init", payload: token ? { authorization: `Bearer ${token}` } : {} }));
  };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "connection_ack") {
      status.textContent = "connected";
      delay = 1000;
      ws.send(JSON.stringify({ id: "live", type: "subscribe", payload: {
        query: "subscription($after:Int){matchEvents(after:$after){id kind cause at deployment advisory package}}",
        variables: { after: lastEvent } } }));
    } else if (m.type === "ping") {
      ws.send(JSON.stringify({ type: "pong" }));
    } else if (m.type === "next" && m.payload.data) {
      const e = m.payload.data.matchEvents;
      lastEvent = e.id;
      const li = document.createElement("li");
      li.className = e.kind;
      li.dataset.event = e.id;
      li.innerHTML = `${link("deployment", e.deployment)} <span class="kind">${esc(e.kind)}</span> ` +
        `${link("advisory", e.advisory)}<br><span class="muted">${esc(e.package)} · ${esc(e.cause)} · ${esc(e.at)}</span>`;
      list.prepend(li);
      while (list.children.length > 50) list.lastChild.remove();
      const [view, arg] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
      const concerns = (view === "deployment" && arg === e.deployment) || (view === "advisory" && arg === e.advisory);
      if (!view) {
        // The overview reads the whole estate: redrawn when asked, not on
        // every event of a busy estate.
        if (!results.querySelector(".stale-notice")) {
          const notice = document.createElement("p");
          notice.className = "stale-notice";
          notice.innerHTML = `The estate has changed since this overview was drawn. <button type="button">Refresh</button>`;
          notice.querySelector("button").addEventListener("click", route);
          results.prepend(notice);
        }
      } else if (concerns) {
        clearTimeout(redraw);
        redraw = setTimeout(route, 250);
      }
    } else if (m.type === "error") {
      status.textContent = "error: " + (m.payload || []).map((x) => x.message).join("; ");
    }
  };
  ws.onclose = () => {
    status.textContent = "disconnected, retrying…";
    setTimeout(() => startLive(Math.min(delay * 2, 30000)), delay);
  };
}
