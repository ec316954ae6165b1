// Consent in the browser, on a server that invites strangers (the default):
// a group invitation accepted from the list, a message request read and
// declined (which blocks), a block from a conversation's menu, the blocked
// list with its way back, a request accepted (the asker told at once), and
// a chat deleted for one side only.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, expectTexts, launchBrowser, newUser, openConversation, send, shot, signUp, startDirect, startParley, texts, type Parley } from "./harness";

const SUITE = "consent";
let parley: Parley;
let browser: Browser;
let ann: Page;
let ben: Page;
let max: Page;

beforeAll(async () => {
  parley = await startParley({ invitations: "strangers" });
  browser = await launchBrowser();
  ann = (await newUser(browser, parley.url)).page;
  ben = (await newUser(browser, parley.url)).page;
  max = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

const titles = (page: Page) => page.locator("[data-testid=conv-item]").evaluateAll((els) => els.map((e) => e.getAttribute("data-title")));

describe("consent", () => {
  it("invites a stranger to a group, who joins from the invitation", async () => {
    await signUp(ann, "ann");
    await signUp(ben, "ben");
    await signUp(max, "max");
    await ben.getByTestId("new-group").click();
    await ben.getByTestId("group-title").fill("Book club");
    await ben.getByTestId("usernames").fill("ann");
    await ben.getByTestId("new-chat-submit").click();
    await expect.poll(() => ben.getByTestId("conv-title").textContent()).toBe("Book club");
    await send(ben, "welcome!");
    // Ann is invited, not added: the group is not in her list yet.
    const invitation = ann.locator('[data-testid=invitation][data-title="Book club"]');
    await expect.poll(() => invitation.count(), { timeout: 15_000 }).toBe(1);
    expect(await titles(ann)).toEqual([]);
    await expect.poll(() => invitation.textContent()).toContain("ben invited you");
    await shot(ann, SUITE, "invitation");
    // Ben's members list shows her as invited.
    await ben.getByTestId("group-settings-toggle").click();
    await expect.poll(() => ben.locator('[data-testid=member-invited][data-user="ann"]').count()).toBe(1);
    await shot(ben, SUITE, "invited-member");
    await ben.getByTestId("group-settings-toggle").click();
    await invitation.getByTestId("accept-invitation").click();
    await expect.poll(() => ann.getByTestId("conv-title").textContent()).toBe("Book club");
    await expectTexts(ann, ["welcome!"]);
    await expect.poll(() => invitation.count()).toBe(0);
    await expect.poll(() => ben.locator("[data-testid=notice]").allTextContents(), { timeout: 15_000 }).toContain("ann joined");
  });

  it("shows a stranger's message as a request, declined and blocked", async () => {
    await startDirect(max, "ann");
    await expect.poll(() => max.getByTestId("request-sent").count()).toBe(1);
    await send(max, "hey, got a minute?");
    const request = ann.locator('[data-testid=request][data-title="max"]');
    await expect.poll(() => request.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => request.textContent()).toContain("hey, got a minute?");
    expect(await titles(ann)).toEqual(["Book club"]);
    await request.click();
    await expect.poll(() => ann.getByTestId("request-banner").count()).toBe(1);
    await expectTexts(ann, ["hey, got a minute?"]);
    // Max does not see Ann online while the request waits.
    await expect.poll(() => max.getByTestId("conv-subtitle").textContent()).not.toBe("online");
    await shot(ann, SUITE, "message-request");
    await ann.getByTestId("decline-request").click();
    await expect.poll(() => request.count()).toBe(0);
    await expect.poll(() => ann.getByTestId("blocked-toggle").textContent()).toBe("Blocked (1)");
    // Max's next message is refused, with the reason.
    await send(max, "hello??");
    await expect.poll(() => max.locator("[data-testid=message][data-state=failed]").textContent(), { timeout: 15_000 }).toContain("does not accept messages");
    await shot(max, SUITE, "refused-after-block");
  });

  it("blocks from the menu and unblocks from the blocked list", async () => {
    // Ben and Ann share the group: their direct conversation opens at once.
    await startDirect(ben, "ann");
    expect(await ben.getByTestId("request-sent").count()).toBe(0);
    await send(ben, "coffee?");
    await expect.poll(() => titles(ann), { timeout: 15_000 }).toContain("ben");
    await openConversation(ann, "ben");
    await ann.getByTestId("conv-menu").click();
    await ann.getByTestId("block").click();
    await expect.poll(() => titles(ann)).toEqual(["Book club"]);
    await ann.getByTestId("blocked-toggle").click();
    await expect.poll(() => ann.locator("[data-testid=blocked-user]").evaluateAll((els) => els.map((e) => e.getAttribute("data-user")).sort())).toEqual(["ben", "max"]);
    await shot(ann, SUITE, "blocked-list");
    await ann.locator('[data-testid=blocked-user][data-user="ben"]').getByTestId("unblock").click();
    await expect.poll(() => titles(ann)).toContain("ben");
    await openConversation(ben, "ann");
    await send(ben, "thanks for unblocking");
    await openConversation(ann, "ben");
    await expectTexts(ann, ["thanks for unblocking"]);
  });

  it("tells the one who asked that the request was accepted", async () => {
    // Max and Ben share nothing: a request, accepted with the button.
    await startDirect(max, "ben");
    await send(max, "hi ben, max from sales");
    const request = ben.locator('[data-testid=request][data-title="max"]');
    await expect.poll(() => request.count(), { timeout: 15_000 }).toBe(1);
    await request.click();
    await ben.getByTestId("accept-request").click();
    // Max's banner goes at once, and both read why.
    await expect.poll(() => max.getByTestId("request-sent").count(), { timeout: 15_000 }).toBe(0);
    await expect.poll(() => max.locator("[data-testid=notice]").allTextContents(), { timeout: 15_000 }).toContain("ben accepted the message request");
    await expect.poll(() => ben.locator("[data-testid=notice]").allTextContents()).toContain("ben accepted the message request");
    // Now contacts: each sees the other online.
    await expect.poll(() => max.getByTestId("conv-subtitle").textContent(), { timeout: 15_000 }).toBe("online");
    await shot(max, SUITE, "request-accepted");
  });

  it("deletes a chat for me: gone until someone writes, with only what came after", async () => {
    await openConversation(ben, "max");
    await expectTexts(ben, ["hi ben, max from sales"]);
    await ben.getByTestId("conv-menu").click();
    await ben.getByTestId("hide-conv").click();
    await expect.poll(() => titles(ben)).not.toContain("max");
    // It stays gone across a reload (the server keeps it).
    await ben.reload();
    await expect.poll(() => titles(ben), { timeout: 15_000 }).toContain("ann");
    expect(await titles(ben)).not.toContain("max");
    // Max still has everything.
    await expectTexts(max, ["hi ben, max from sales"]);
    await send(max, "did you get my note?");
    await expect.poll(() => titles(ben), { timeout: 15_000 }).toContain("max");
    await openConversation(ben, "max");
    await expect.poll(() => texts(ben), { timeout: 15_000 }).toEqual(["did you get my note?"]);
  });
});
