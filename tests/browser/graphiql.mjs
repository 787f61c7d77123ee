// Loads GraphiQL from the server in Debian's Chromium with every request
// that is not to loopback aborted (no route out), runs a query through its
// editor, and reports what rendered and every request it tried elsewhere.
// Usage: node graphiql.mjs BASE_URL SCREENSHOT.png  → prints a JSON summary.
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error("usage: node graphiql.mjs BASE_URL SCREENSHOT.png");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const offsite = [];
  // The network is off for the page: only loopback answers.
  await context.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === "127.0.0.1" || host === "localhost" || host === "[::1]") return route.continue();
    offsite.push(route.request().url());
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${base}/graphql`, { waitUntil: "load" });
  // GraphiQL's own UI: its container, the query editor (CodeMirror) and the run button.
  await page.waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror", { timeout: 20000 });
  const editor = await page.$$eval(".graphiql-query-editor .CodeMirror", (e) => e.length);
  // Type a query into the editor and run it; the answer shows in the result pane.
  await page.evaluate(() => {
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ deployments }");
  });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue().includes("deployments"),
    null, { timeout: 20000 });
  const result = await page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ editor, result: JSON.parse(result), offsite, errors }));
} finally {
  await browser.close();
}
