// The dashboard updates without a reload: opens a deployment's page, loads an
// advisory that affects it through the API (as a sync or another user would),
// and waits for the live list and the deployment's advisories to show it; an
// overview open in another tab says the estate changed and redraws on asking.
// Usage: node live.mjs BASE_URL DEPLOYMENT WRITE_TOKEN ADVISORY_FILE SCREENSHOT.png
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, deployment, token, advisoryFile, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}#/deployment/${encodeURIComponent(deployment)}`, { waitUntil: "load" });
  await page.waitForSelector("table.documents tbody tr", { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector("#live-status").textContent === "connected", null, { timeout: 15000 });
  // Marks this document: a reload would lose it.
  await page.evaluate(() => { window.__notReloaded = true; });
  const before = await page.$$eval("table.matches tbody tr", (r) => r.length);
  // A second tab on the overview: told that the estate changed, redrawn when
  // asked (it reads the whole estate, so not on every event).
  const home = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  home.on("pageerror", (e) => errors.push(String(e)));
  await home.goto(base, { waitUntil: "load" });
  await home.waitForFunction(() => performance.getEntriesByName("overview-rendered").length > 0, null, { timeout: 15000 });
  await home.waitForFunction(() => document.querySelector("#live-status").textContent === "connected", null, { timeout: 15000 });
  const openCard = () => home.$eval('.card[data-count="open"] .value', (e) => Number(e.textContent.trim()));
  const overviewBefore = await openCard();

  const record = readFileSync(advisoryFile, "utf8");
  const res = await fetch(`${base}graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: "mutation($c:String!,$f:String!){loadAdvisories(content:$c,fileName:$f){added}}",
      variables: { c: record, f: advisoryFile.split("/").pop() },
    }),
  });
  const loaded = await res.json();

  await page.waitForSelector("#live-events li", { timeout: 15000 });
  await page.waitForSelector("table.matches tbody tr", { timeout: 15000 });
  const live = await page.$$eval("#live-events li", (lis) => lis.map((li) => ({
    kind: li.className, text: li.textContent.replace(/\s+/g, " ").trim() })));
  const after = await page.$$eval("table.matches tbody tr td:nth-child(2)", (tds) => tds.map((td) => td.textContent.trim()));
  const notReloaded = await page.evaluate(() => window.__notReloaded === true);
  await home.waitForSelector(".stale-notice button", { timeout: 15000 });
  const overviewStale = await openCard();
  await home.click(".stale-notice button");
  await home.waitForFunction(() => !document.querySelector(".stale-notice") && performance.getEntriesByName("overview-rendered").length > 1, null, { timeout: 15000 });
  const overviewAfter = await openCard();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ loaded, before, live, after, notReloaded, overviewBefore, overviewStale, overviewAfter, errors }));
} finally {
  await browser.close();
}
