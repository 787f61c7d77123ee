// Loads the dashboard in Debian's Chromium, searches `transformers`, reads
// the deployments the page shows, opens one, and saves a screenshot.
// Usage: node dashboard.mjs BASE_URL SCREENSHOT.png  → prints a JSON summary.
import { chromium } from "playwright-core";

const [base, screenshot, modelDeployment] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error("usage: node dashboard.mjs BASE_URL SCREENSHOT.png");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // The machine's network is closed: keep Chromium from calling home.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(base, { waitUntil: "load" });
  await page.fill("#search", "transformers");
  await page.press("#search", "Enter");
  await page.waitForSelector("table.hits tbody tr", { timeout: 15000 });
  const deployments = await page.$$eval("table.hits tbody tr td:first-child", (tds) =>
    [...new Set(tds.map((td) => td.textContent.trim()))].sort());
  const paths = await page.$$eval("table.hits tbody tr td:last-child", (tds) => tds.map((td) => td.textContent.trim()));
  const pictureNodes = await page.$$eval("svg.radius rect", (r) => r.length);
  await page.screenshot({ path: screenshot, fullPage: true });

  // Open the first deployment from the table.
  await page.click("table.hits tbody tr td:first-child a");
  await page.waitForSelector("table.documents tbody tr", { timeout: 15000 });
  const heading = await page.textContent("h2");
  const download = await page.getAttribute("a.download", "href");
  const exports = await page.$$eval("a.export", (a) => a.map((x) => x.getAttribute("href")));
  const craReport = await page.getAttribute("a.cra", "href");
  const models = await page.$$eval("table.models tbody tr td:first-child", (tds) => tds.map((td) => td.textContent.trim()));
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-deployment.png"), fullPage: true });

  // A deployment that runs a model: its lineage picture.
  let lineage = null;
  if (modelDeployment) {
    await page.goto(`${base}#/deployment/${encodeURIComponent(modelDeployment)}`, { waitUntil: "load" });
    await page.waitForSelector("svg.lineage rect", { timeout: 15000 });
    lineage = {
      nodes: await page.$$eval("svg.lineage title", (t) => t.map((x) => x.textContent).sort()),
      relations: await page.$$eval("svg.lineage text.relation", (t) => t.map((x) => x.textContent).sort()),
      approval: await page.$$eval("table.models tbody tr td:nth-child(6)", (tds) => tds.map((td) => td.textContent.trim())),
      gate: {
        verdict: (await page.textContent("span.verdict")).trim(),
        outcomes: await page.$$eval("table.gate tbody tr", (trs) => trs.map((tr) =>
          [tr.children[0].textContent.trim(), tr.children[2].textContent.trim()])),
        violations: await page.$$eval("ul.violations li", (lis) => lis.map((li) =>
          [li.dataset.rule, li.dataset.subject, li.querySelectorAll("a").length])),
      },
      releases: await page.$$eval("table.releases tbody tr", (trs) => trs.map((tr) =>
        [tr.children[1].textContent.trim(), tr.children[3].textContent.trim()])),
      drift: (await page.textContent("p.drift-verdict .verdict")).trim(),
      differences: await page.$$eval("table.drift tbody tr", (trs) => trs.map((tr) =>
        [tr.children[0].textContent.trim(), tr.children[1].textContent.trim()])),
      rollback: (await page.textContent("p.rollback b")).trim(),
    };
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-lineage.png"), fullPage: true });
  }
  console.log(JSON.stringify({ deployments, paths, pictureNodes, heading, download, exports, craReport, models, lineage, errors }));
} finally {
  await browser.close();
}
