// For aibomdb-bench dashboard: loads the overview RUNS times, each in a new
// page, and prints when it was on screen (the page's `overview-rendered`
// mark, ms after navigation began) and how long its GraphQL request took.
// Usage: node timing.mjs BASE_URL RUNS
import { chromium } from "playwright-core";

const [base, runs = "5"] = process.argv.slice(2);
if (!base) {
  console.error("usage: node timing.mjs BASE_URL RUNS");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const out = [];
  for (let i = 0; i < Number(runs); i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(base, { waitUntil: "load" });
    await page.waitForFunction(() => performance.getEntriesByName("overview-rendered").length > 0, null, { timeout: 120000 });
    out.push(await page.evaluate(() => ({
      renderedMs: performance.getEntriesByName("overview-rendered")[0].startTime,
      // The first GraphQL request of the page is the overview's.
      graphqlMs: performance.getEntriesByType("resource").filter((r) => r.name.endsWith("/graphql"))[0]?.duration ?? null,
    })));
    await page.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
