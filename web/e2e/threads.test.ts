// Threads in the browser: replies open beside the conversation, stay out of
// its main list, show under their root as "N replies" with an unread count
// for the others, live, and survive a reload. And forwarding a message to
// another conversation, marked with its author.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, expectTexts, launchBrowser, newUser, openConversation, send, shot, signUp, startDirect, startParley, type Parley } from "./harness";

const SUITE = "threads";
let parley: Parley;
let browser: Browser;
let ivy: Page;
let jon: Page;

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  ivy = (await newUser(browser, parley.url)).page;
  jon = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

const link = (page: Page, text: string) =>
  page.locator("[data-testid=messages] [data-testid=message]", { hasText: text }).getByTestId("thread-link");
const mainTexts = (page: Page) => page.locator("[data-testid=messages] [data-testid=message][data-state=delivered] [data-testid=text]").allTextContents();
const threadTexts = (page: Page) => page.locator("[data-testid=thread-messages] > [data-testid=message] [data-testid=text]").allTextContents();

describe("threads", () => {
  it("replies in a thread beside the conversation", async () => {
    await signUp(ivy, "ivy");
    await signUp(jon, "jon");
    await ivy.getByTestId("new-group").click();
    await ivy.getByTestId("group-title").fill("Release");
    await ivy.getByTestId("usernames").fill("jon");
    await ivy.getByTestId("new-chat-submit").click();
    await expect.poll(() => ivy.getByTestId("conv-title").textContent()).toBe("Release");
    await send(ivy, "ship on friday?");
    await send(ivy, "also: lunch");
    await openConversation(jon, "Release");
    await expectTexts(jon, ["ship on friday?", "also: lunch"]);
    // One day, one separator; the second of two close messages by one
    // sender joins the first's group (no name repeated).
    expect(await jon.locator("[data-testid=day-separator]").allTextContents()).toEqual(["Today"]);
    const grouped = jon.locator("[data-testid=messages] [data-testid=message][data-grouped=true]");
    await expect.poll(() => grouped.allTextContents()).toEqual([expect.stringContaining("also: lunch")]);
    expect(await grouped.locator(".sender").count()).toBe(0);
    const root = jon.locator("[data-testid=message][data-state=delivered]", { hasText: "ship on friday?" });
    await root.hover();
    await root.getByTestId("reply-in-thread").click();
    await expect.poll(() => jon.getByTestId("thread-root").textContent()).toContain("ship on friday?");
    await jon.getByTestId("thread-input").fill("yes, QA signed off");
    await jon.getByTestId("thread-input").press("Enter");
    await expect.poll(() => threadTexts(jon)).toEqual(["yes, QA signed off"]);
    // Not in the main list; counted under its root, for both.
    expect(await mainTexts(jon)).toEqual(["ship on friday?", "also: lunch"]);
    await expect.poll(() => link(jon, "ship on friday?").getAttribute("data-replies")).toBe("1");
    await expect.poll(() => link(ivy, "ship on friday?").getAttribute("data-replies"), { timeout: 15_000 }).toBe("1");
    await expect.poll(() => link(ivy, "ship on friday?").getAttribute("data-unread")).toBe("1");
    expect(await mainTexts(ivy)).toEqual(["ship on friday?", "also: lunch"]);
    await shot(ivy, SUITE, "thread-link-unread");
    await shot(jon, SUITE, "thread-open");
  });

  it("opens the thread from its link, reads it, and answers live", async () => {
    await link(ivy, "ship on friday?").click();
    await expect.poll(() => threadTexts(ivy)).toEqual(["yes, QA signed off"]);
    await expect.poll(() => link(ivy, "ship on friday?").getAttribute("data-unread")).toBe("0");
    await ivy.getByTestId("thread-input").fill("great, tagging now");
    await ivy.getByTestId("thread-input").press("Enter");
    await expect.poll(() => threadTexts(jon), { timeout: 15_000 }).toEqual(["yes, QA signed off", "great, tagging now"]);
    await expect.poll(() => link(jon, "ship on friday?").getAttribute("data-replies")).toBe("2");
    await shot(jon, SUITE, "thread-live");
  });

  it("keeps counts and read state across a reload", async () => {
    await jon.getByTestId("thread-close").click();
    await ivy.getByTestId("thread-close").click();
    await openConversation(ivy, "Release");
    await ivy.reload();
    await openConversation(ivy, "Release");
    await expect.poll(() => link(ivy, "ship on friday?").getAttribute("data-replies"), { timeout: 15_000 }).toBe("2");
    await expect.poll(() => link(ivy, "ship on friday?").getAttribute("data-unread")).toBe("0");
    expect(await mainTexts(ivy)).toEqual(["ship on friday?", "also: lunch"]);
  });

  it("forwards a message to another conversation, marked with its author", async () => {
    await startDirect(jon, "ivy");
    await openConversation(jon, "Release");
    const msg = jon.locator("[data-testid=messages] [data-testid=message][data-state=delivered]", { hasText: "also: lunch" });
    await msg.hover();
    await msg.getByTestId("forward").click();
    await jon.getByTestId("forward-filter").fill("iv");
    await shot(jon, SUITE, "forward-picker");
    await jon.locator('[data-testid=forward-target][data-title="ivy"]').click();
    await expect.poll(() => jon.getByTestId("forward-dialog").count()).toBe(0);
    await openConversation(ivy, "jon");
    await expectTexts(ivy, ["also: lunch"]);
    await expect.poll(() => ivy.locator("[data-testid=forwarded]").last().textContent()).toBe("Forwarded from ivy");
    await shot(ivy, SUITE, "forwarded");
  });
});
