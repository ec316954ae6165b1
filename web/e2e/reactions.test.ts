// Reactions, mentions and pins in a group: @-name autocomplete in the
// composer, the mention highlighted and badged for the person named,
// reactions picked, counted and toggled live on every screen, a member who
// opens the group later sees the reactions with the messages (history
// summaries), and a pinned message listed for everyone until unpinned.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, expectTexts, launchBrowser, newUser, openConversation, send, shot, signUp, startParley, type Parley } from "./harness";

const SUITE = "reactions";
let parley: Parley;
let browser: Browser;
const pages: Record<string, Page> = {};

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  for (const name of ["gina", "hugo", "ines"]) pages[name] = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

/** The chip of `emoji` under the last message: "count" text and whether it is mine. */
async function chip(page: Page, emoji: string): Promise<{ count: string; mine: string | null } | null> {
  const c = page.locator(`[data-testid=message][data-state=delivered]`).last().locator(`[data-testid=reaction][data-emoji="${emoji}"]`);
  if ((await c.count()) === 0) return null;
  return { count: (await c.locator(".count").textContent()) ?? "", mine: await c.getAttribute("aria-pressed") };
}

describe("reactions, mentions and pins", () => {
  it("sets up a group of three", async () => {
    for (const name of ["gina", "hugo", "ines"]) await signUp(pages[name]!, name);
    const gina = pages.gina!;
    await gina.getByTestId("new-group").click();
    await gina.getByTestId("group-title").fill("Design review");
    await gina.getByTestId("usernames").fill("hugo, ines");
    await gina.getByTestId("new-chat-submit").click();
    await expect.poll(() => gina.getByTestId("conv-title").textContent()).toBe("Design review");
    await expect.poll(() => gina.getByTestId("conv-subtitle").textContent()).toMatch(/^3 members/);
  });

  it("completes an @-name and shows the mention to the person named", async () => {
    const gina = pages.gina!;
    const input = gina.getByTestId("composer-input");
    await input.fill("");
    await input.pressSequentially("@hu");
    await expect.poll(() => gina.getByTestId("mention-option").allTextContents()).toEqual(["@hugo"]);
    await shot(gina, SUITE, "mention-autocomplete");
    await gina.getByTestId("mention-option").click();
    await input.pressSequentially("can you check the mockups?");
    await input.press("Enter");
    await expectTexts(gina, ["@hugo can you check the mockups?"]);
    // Hugo has not opened the group: it is badged as mentioning him.
    const hugo = pages.hugo!;
    await expect
      .poll(() => hugo.locator('[data-testid=conv-item][data-title="Design review"] [data-testid=mention-badge]').count(), { timeout: 15_000 })
      .toBe(1);
    await shot(hugo, SUITE, "mention-badge");
    await openConversation(hugo, "Design review");
    await expectTexts(hugo, ["@hugo can you check the mockups?"]);
    await expect.poll(() => hugo.locator("[data-testid=mention].me").textContent()).toBe("@hugo");
    await shot(hugo, SUITE, "mention-highlighted");
  });

  it("adds, counts and toggles reactions live", async () => {
    const hugo = pages.hugo!;
    const gina = pages.gina!;
    const last = hugo.locator("[data-testid=message][data-state=delivered]").last();
    await last.hover();
    await last.getByTestId("react").click();
    await shot(hugo, SUITE, "reaction-picker");
    await last.locator('[data-testid=react-choice][data-emoji="👍"]').click();
    await expect.poll(() => chip(hugo, "👍")).toEqual({ count: "1", mine: "true" });
    await expect.poll(() => chip(gina, "👍"), { timeout: 15_000 }).toEqual({ count: "1", mine: "false" });
    // Gina joins in by clicking the chip, then takes it back.
    await gina.locator('[data-testid=message][data-state=delivered]').last().locator('[data-testid=reaction][data-emoji="👍"]').click();
    await expect.poll(() => chip(gina, "👍")).toEqual({ count: "2", mine: "true" });
    await expect.poll(() => chip(hugo, "👍")).toEqual({ count: "2", mine: "true" });
    await shot(gina, SUITE, "two-reactions");
    await gina.locator('[data-testid=message][data-state=delivered]').last().locator('[data-testid=reaction][data-emoji="👍"]').click();
    await expect.poll(() => chip(hugo, "👍")).toEqual({ count: "1", mine: "true" });
    // A second emoji from Gina.
    const ginaLast = gina.locator("[data-testid=message][data-state=delivered]").last();
    await ginaLast.hover();
    await ginaLast.getByTestId("react").click();
    await ginaLast.locator('[data-testid=react-choice][data-emoji="🎉"]').click();
    await expect.poll(() => chip(hugo, "🎉")).toEqual({ count: "1", mine: "false" });
  });

  it("shows a late reader the reactions with the messages", async () => {
    const ines = pages.ines!;
    await send(pages.gina!, "thanks both");
    await openConversation(ines, "Design review");
    await expectTexts(ines, ["@hugo can you check the mockups?", "thanks both"]);
    const msg = ines.locator("[data-testid=message][data-state=delivered]").nth(-2);
    await expect.poll(() => msg.locator("[data-testid=reaction]").evaluateAll((els) => els.map((e) => e.textContent?.replace(/\s+/g, " ").trim()))).toEqual(["👍 1", "🎉 1"]);
    await shot(ines, SUITE, "late-reader");
  });

  it("pins a message for everyone, lists it, and unpins it", async () => {
    const hugo = pages.hugo!;
    const gina = pages.gina!;
    const first = hugo.locator("[data-testid=message][data-state=delivered]").first();
    await first.hover();
    await first.getByTestId("pin").click();
    for (const page of [hugo, gina, pages.ines!]) {
      await expect.poll(() => page.getByTestId("pinned-toggle").textContent(), { timeout: 15_000 }).toContain("1 pinned");
    }
    await gina.getByTestId("pinned-toggle").click();
    await expect.poll(() => gina.getByTestId("pinned-item").allTextContents()).toEqual(["gina: @hugo can you check the mockups?"]);
    await expect.poll(() => gina.getByTestId("pinned-mark").count()).toBe(1);
    await shot(gina, SUITE, "pinned-list");
    // Unpinned by someone else: gone everywhere.
    const ginaFirst = gina.locator("[data-testid=message][data-state=delivered]").first();
    await ginaFirst.hover();
    await ginaFirst.getByTestId("unpin").click();
    for (const page of [hugo, gina]) await expect.poll(() => page.getByTestId("pinned-bar").count()).toBe(0);
  });
});
