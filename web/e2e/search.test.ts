// Search in the browser: the box above the list finds messages of my
// conversations only, marks the matched words, and a hit opens its
// conversation at the message (loading back to it; a thread reply opens
// its thread).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, launchBrowser, newUser, openConversation, send, shot, signUp, startParley, type Parley } from "./harness";

const SUITE = "search";
let parley: Parley;
let browser: Browser;
let kai: Page;
let liv: Page;

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  kai = (await newUser(browser, parley.url)).page;
  liv = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

/** Searches and waits for the answer to this very search (not an earlier one still shown). */
async function search(page: Page, words: string): Promise<void> {
  const results = page.getByTestId("search-results");
  const before = (await results.count()) ? Number(await results.getAttribute("data-runs")) : 0;
  await page.getByTestId("search-input").fill(words);
  await page.getByTestId("search-input").press("Enter");
  await expect.poll(async () => ((await results.count()) ? Number(await results.getAttribute("data-runs")) : 0), { timeout: 10_000 }).toBeGreaterThan(before);
}

const hits = (page: Page) => page.locator("[data-testid=search-hit]");

describe("search", () => {
  it("finds an old message and opens the conversation at it", async () => {
    await signUp(kai, "kai");
    await signUp(liv, "liv");
    await kai.getByTestId("new-group").click();
    await kai.getByTestId("group-title").fill("Infra");
    await kai.getByTestId("usernames").fill("liv");
    await kai.getByTestId("new-chat-submit").click();
    await expect.poll(() => kai.getByTestId("conv-title").textContent()).toBe("Infra");
    await send(kai, "the certificate on the gateway expires in June");
    // More than a page of newer messages: the hit is not on screen.
    for (let i = 0; i < 60; i++) await send(kai, `status ping ${i}`);
    await expect.poll(() => kai.locator("[data-testid=message][data-state=delivered]").last().textContent(), { timeout: 20_000 }).toContain("status ping 59");
    await openConversation(liv, "Infra");
    await liv.getByTestId("back").click().catch(() => undefined);
    // The index follows within about a second.
    await expect
      .poll(
        async () => {
          await search(liv, "certificate expires");
          return hits(liv).count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(1);
    await expect.poll(() => hits(liv).first().locator("mark").allTextContents()).toEqual(["certificate", "expires"]);
    await shot(liv, SUITE, "hits");
    const seq = await hits(liv).first().getAttribute("data-seq");
    await hits(liv).first().click();
    const target = liv.locator(`[data-testid=messages] [data-testid=message][data-seq="${seq}"]`);
    await expect.poll(() => target.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => target.isVisible()).toBe(true);
    await shot(liv, SUITE, "jumped-to-hit");
  });

  it("opens a reply in its thread, and finds nothing of other people's conversations", async () => {
    await openConversation(kai, "Infra");
    const root = kai.locator("[data-testid=messages] [data-testid=message][data-state=delivered]").last();
    await root.hover();
    await root.getByTestId("reply-in-thread").click();
    await kai.getByTestId("thread-input").fill("renewal ticket filed");
    await kai.getByTestId("thread-input").press("Enter");
    await expect
      .poll(
        async () => {
          await search(liv, "renewal");
          return hits(liv).count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(1);
    await shot(liv, SUITE, "reply-hit");
    await hits(liv).first().click();
    await expect.poll(() => liv.getByTestId("thread").count(), { timeout: 15_000 }).toBe(1);
    // Kai writes somewhere Liv is not: she never finds it.
    await kai.getByTestId("thread-close").click();
    await kai.getByTestId("new-group").click();
    await kai.getByTestId("group-title").fill("Private");
    await kai.getByTestId("new-chat-submit").click();
    await expect.poll(() => kai.getByTestId("conv-title").textContent()).toBe("Private");
    await send(kai, "renewal budget is private");
    await expect
      .poll(
        async () => {
          await search(kai, "renewal budget");
          return hits(kai).count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(1);
    await search(liv, "renewal budget");
    await expect.poll(() => liv.getByTestId("search-results").textContent()).toContain("No messages found.");
  });
});
