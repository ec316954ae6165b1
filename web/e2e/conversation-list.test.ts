// My own settings of conversations, in the list: mute (a grey badge, not in
// the tab title's count), pin to the top, archive (out of the list, under
// "Archived"), and mark unread (kept across a reload, gone when opened).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, expectTexts, launchBrowser, newUser, openConversation, send, shot, signUp, startDirect, startParley, waitOnline, type Parley } from "./harness";

const SUITE = "conversation-list";
let parley: Parley;
let browser: Browser;
let kim: Page;
let lee: Page;

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  kim = (await newUser(browser, parley.url)).page;
  lee = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

const item = (page: Page, title: string) => page.locator(`[data-testid=conv-item][data-title="${title}"]`);
const titles = (page: Page) => page.locator("[data-testid=conv-item]").evaluateAll((els) => els.map((e) => e.getAttribute("data-title")));

async function menu(page: Page, action: string): Promise<void> {
  await page.getByTestId("conv-menu").click();
  await page.getByTestId(action).click();
}

describe("my settings of conversations", () => {
  it("sets up a DM and a group", async () => {
    await signUp(kim, "kim");
    await signUp(lee, "lee");
    await startDirect(lee, "kim");
    await send(lee, "hello kim");
    await lee.getByTestId("new-group").click();
    await lee.getByTestId("group-title").fill("Ops");
    await lee.getByTestId("usernames").fill("kim");
    await lee.getByTestId("new-chat-submit").click();
    await expect.poll(() => lee.getByTestId("conv-title").textContent()).toBe("Ops");
    await send(lee, "deploy at 5");
    await expect.poll(() => titles(kim), { timeout: 15_000 }).toEqual(["Ops", "lee"]);
  });

  it("mutes a conversation: grey badge, not counted in the tab title", async () => {
    await openConversation(kim, "lee");
    await expectTexts(kim, ["hello kim"]);
    await menu(kim, "mute");
    await expect.poll(() => item(kim, "lee").getByTestId("conv-muted").count()).toBe(1);
    await openConversation(kim, "Ops");
    // Lee writes in the muted DM while Kim reads the group.
    await openConversation(lee, "kim");
    await send(lee, "are you there?");
    await expect.poll(() => item(kim, "lee").getByTestId("unread-badge").getAttribute("class"), { timeout: 15_000 }).toBe("badge muted");
    await expect.poll(() => kim.title()).toBe("Parley");
    await shot(kim, SUITE, "muted");
  });

  it("pins a conversation to the top", async () => {
    await openConversation(kim, "lee");
    await menu(kim, "pin-conv");
    await expect.poll(() => titles(kim)).toEqual(["lee", "Ops"]);
    // A newer message in Ops does not move it above the pinned DM.
    await openConversation(lee, "Ops");
    await send(lee, "one more thing");
    await expect.poll(() => item(kim, "Ops").locator(".conv-last").textContent(), { timeout: 15_000 }).toBe("lee: one more thing");
    expect(await titles(kim)).toEqual(["lee", "Ops"]);
  });

  it("archives a conversation out of the list and back", async () => {
    await openConversation(kim, "Ops");
    await menu(kim, "archive");
    await expect.poll(() => titles(kim)).toEqual(["lee"]);
    await kim.getByTestId("archived-toggle").click();
    await expect.poll(() => titles(kim)).toEqual(["Ops"]);
    await shot(kim, SUITE, "archived");
    await openConversation(kim, "Ops");
    await menu(kim, "archive");
    await kim.getByTestId("archived-toggle").click();
    await expect.poll(() => titles(kim)).toEqual(["lee", "Ops"]);
  });

  it("shows a setting changed on another device at once", async () => {
    const { page: kim2 } = await newUser(browser, parley.url);
    await kim2.getByRole("tab", { name: "Log in" }).click();
    await kim2.getByLabel("Username").fill("kim");
    await kim2.getByLabel("Password").fill("correct horse battery");
    await kim2.getByTestId("auth-submit").click();
    await waitOnline(kim2);
    await expect.poll(() => item(kim2, "lee").getByTestId("conv-muted").count(), { timeout: 15_000 }).toBe(1);
    await openConversation(kim, "lee");
    await menu(kim, "unmute");
    await expect.poll(() => item(kim2, "lee").getByTestId("conv-muted").count(), { timeout: 15_000 }).toBe(0);
    await menu(kim, "mute");
    await expect.poll(() => item(kim2, "lee").getByTestId("conv-muted").count(), { timeout: 15_000 }).toBe(1);
    await kim2.context().close();
  });

  it("marks a conversation unread, across a reload, until it is opened", async () => {
    await openConversation(kim, "Ops");
    await menu(kim, "mark-unread");
    await expect.poll(() => item(kim, "Ops").getByTestId("marked-unread").count()).toBe(1);
    await kim.reload();
    await waitOnline(kim);
    await expect.poll(() => item(kim, "Ops").getByTestId("marked-unread").count(), { timeout: 15_000 }).toBe(1);
    // Settings came back from the server too: still muted and pinned.
    await expect.poll(() => item(kim, "lee").getByTestId("conv-muted").count()).toBe(1);
    expect(await titles(kim)).toEqual(["lee", "Ops"]);
    await shot(kim, SUITE, "marked-unread");
    await openConversation(kim, "Ops");
    await expect.poll(() => item(kim, "Ops").getByTestId("marked-unread").count()).toBe(0);
  });
});
