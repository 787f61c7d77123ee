// Dashboard v2 in Debian's Chromium: the overview, ranked search, a
// deployment's advisories, the lineage explorer and the deployments list.
// Reads what each view shows, runs axe-core (npm) on it, saves a screenshot
// of each (and of the overview in a narrow window), and prints a JSON summary
// for tests/browser.rs to compare with the CLI's answers.
// Usage: node overview.mjs BASE_URL SHOT_DIR SEARCH_TEXT BASE_MODEL DEPLOYMENT
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
// Evaluated through the DevTools protocol: the page's CSP (script-src
// 'self') rightly refuses an injected <script>.
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, shots, searchText, baseModel, deployment] = process.argv.slice(2);
if (!base || !shots || !searchText || !baseModel || !deployment) {
  console.error("usage: node overview.mjs BASE_URL SHOT_DIR SEARCH_TEXT BASE_MODEL DEPLOYMENT");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

// Serious and critical axe violations on the page as it is now.
async function axe(page, view) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({ view, ...v }));
}

const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const violations = [];

  // Overview.
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector("table.exposures tbody tr, .cards", { timeout: 15000 });
  await page.waitForFunction(() => performance.getEntriesByName("overview-rendered").length > 0, null, { timeout: 15000 });
  const renderedMs = await page.evaluate(() => performance.getEntriesByName("overview-rendered")[0].startTime);
  const counts = Object.fromEntries(await page.$$eval(".card", (cards) =>
    cards.map((c) => [c.dataset.count, Number(c.querySelector(".value").textContent.trim())])));
  const severity = Object.fromEntries(await page.$$eval("[data-severity]", (els) =>
    els.map((e) => [e.dataset.severity, Number(e.textContent.trim())])));
  const exposures = await texts(page, "table.exposures tbody tr td:nth-child(2) > a");
  const riskiest = await texts(page, "table.riskiest tbody tr td:nth-child(2) > a");
  // Every gate verdict arrives (the page asks for each on its own).
  await page.waitForFunction(() => [...document.querySelectorAll(".gate-verdict")].every((s) => s.textContent !== "…"),
    null, { timeout: 15000 });
  const verdicts = await page.$$eval(".gate-verdict", (els) => els.map((e) => [e.dataset.deployment, e.textContent.trim()]));
  const findings = await texts(page, "table.findings tbody tr td:first-child");
  await page.waitForSelector("svg.exposure-chart", { timeout: 30000 });
  const exposedNow = Number(await page.getAttribute("svg.exposure-chart tspan.now", "data-open"));
  violations.push(...await axe(page, "overview"));
  await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });

  // Keyboard: the skip link is the first stop, and it shows when focused.
  await page.keyboard.press("Tab");
  const firstFocus = await page.evaluate(() => ({
    text: document.activeElement.textContent.trim(),
    visible: document.activeElement.getBoundingClientRect().left >= 0,
  }));

  // Search: ranked, and nothing opened for the user.
  await page.fill("#search", searchText);
  await page.press("#search", "Enter");
  await page.waitForSelector("table.search-packages tbody tr", { timeout: 15000 });
  const ranking = await page.$$eval("table.search-packages tbody tr", (trs) => trs.map((tr) => ({
    purl: tr.children[0].textContent.trim(),
    exact: tr.children[1].textContent.includes("exact"),
    deployments: Number(tr.children[2].textContent.trim()),
  })));
  const stayed = await page.evaluate(() => location.hash);
  violations.push(...await axe(page, "search"));
  await page.screenshot({ path: `${shots}/search.png`, fullPage: true });
  // The user picks the first: its blast radius.
  await page.click("table.search-packages tbody tr:first-child a");
  await page.waitForSelector("table.hits tbody tr", { timeout: 15000 });
  const radiusDeployments = [...new Set(await texts(page, "table.hits tbody tr td:first-child"))].sort();
  violations.push(...await axe(page, "blast radius"));
  await page.screenshot({ path: `${shots}/radius.png`, fullPage: true });

  // A deployment: its advisories, most urgent first.
  await page.goto(`${base}#/deployment/${encodeURIComponent(deployment)}`, { waitUntil: "load" });
  await page.waitForSelector("table.matches tbody tr", { timeout: 15000 });
  const advisories = await page.$$eval("table.matches tbody tr", (trs) => trs.map((tr) => ({
    advisory: tr.children[1].textContent.trim(),
    severity: tr.children[3].querySelector(".sev").textContent.trim().split(" ")[0],
    whyUnknown: tr.children[3].querySelector(".why-unknown")?.textContent.trim() ?? null,
  })));
  // Its dependency graph: the vulnerable packages in red, and a collapse.
  await page.waitForSelector("svg.depgraph g.node", { timeout: 15000 });
  const vulnerablePackages = (await page.$$eval('svg.depgraph g.node[data-vulnerable="true"]', (gs) => gs.map((g) => g.dataset.purl))).sort();
  const hotEdges = await page.$$eval("svg.depgraph path.hot", (p) => p.length);
  const nodesBefore = await page.$$eval("svg.depgraph g.node", (g) => g.length);
  // Collapse a root, by keyboard, and expand it again.
  await page.focus('svg.depgraph g.node[data-depth="0"]:not([data-children="0"])');
  await page.keyboard.press("Enter");
  const nodesAfter = await page.$$eval("svg.depgraph g.node", (g) => g.length);
  await page.keyboard.press("Enter");
  const nodesExpanded = await page.$$eval("svg.depgraph g.node", (g) => g.length);
  const graph = { vulnerablePackages, hotEdges, nodesBefore, nodesAfter, nodesExpanded };
  violations.push(...await axe(page, "deployment"));
  await page.screenshot({ path: `${shots}/deployment.png`, fullPage: true });

  // Lineage explorer from the base model.
  await page.goto(`${base}#/lineage/${encodeURIComponent(baseModel)}`, { waitUntil: "load" });
  await page.waitForSelector("table.derived, table.running", { timeout: 15000 });
  const derived = await texts(page, "table.derived tbody tr td:first-child");
  const running = await page.$$eval("table.running tbody tr", (trs) => trs.map((tr) =>
    [tr.children[0].textContent.trim(), tr.children[1].textContent.trim()]));
  violations.push(...await axe(page, "lineage"));
  await page.screenshot({ path: `${shots}/lineage.png`, fullPage: true });

  // Deployments list.
  await page.goto(`${base}#/deployments`, { waitUntil: "load" });
  await page.waitForSelector("ul.deployments li", { timeout: 15000 });
  const deployments = await texts(page, "ul.deployments li");
  violations.push(...await axe(page, "deployments"));
  await page.screenshot({ path: `${shots}/deployments.png`, fullPage: true });

  // A narrow window: nothing wider than the viewport.
  await page.setViewportSize({ width: 420, height: 900 });
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector(".cards", { timeout: 15000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${shots}/overview-narrow.png`, fullPage: true });

  console.log(JSON.stringify({ renderedMs, counts, severity, exposures, riskiest, verdicts, findings, firstFocus,
    ranking, stayed, radiusDeployments, advisories, graph, exposedNow, derived, running, deployments, overflow, violations, errors }));
} finally {
  await browser.close();
}
