// Two people sign up in two browser profiles, start a DM and chat: live
// delivery both ways, typing, presence, read receipts, reply, edit, delete,
// and a reload that keeps the session and the history.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import {
  expectTexts,
  launchBrowser,
  newUser,
  openConversation,
  send,
  shot,
  signUp,
  startDirect,
  startParley,
  texts,
  type Parley,
  expectNoPageErrors,
} from "./harness";

const SUITE = "direct";
let parley: Parley;
let browser: Browser;
let alice: Page;
let bob: Page;

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  alice = (await newUser(browser, parley.url)).page;
  bob = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

describe("a direct conversation in two browsers", () => {
  it("signs both people up", async () => {
    await shot(alice, SUITE, "sign-in-screen");
    await signUp(alice, "alice");
    await signUp(bob, "bob");
    await shot(alice, SUITE, "signed-in-empty");
  });

  it("refuses a taken username and a wrong password with a clear message", async () => {
    const { page, context } = await newUser(browser, parley.url);
    await page.getByTestId("tab-register").click();
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("another password");
    await page.getByTestId("auth-submit").click();
    await expect.poll(() => page.getByTestId("auth-error").textContent()).toBe("That username is taken.");
    await page.getByRole("tab", { name: "Log in" }).click();
    await page.getByLabel("Password").fill("wrong password");
    await page.getByTestId("auth-submit").click();
    await expect.poll(() => page.getByTestId("auth-error").textContent()).toBe("Wrong username or password.");
    await shot(page, SUITE, "wrong-password");
    // Someone who keeps guessing is told to wait, and for how long.
    await page.getByLabel("Username").fill("mallory");
    await expect
      .poll(
        async () => {
          await page.getByTestId("auth-submit").click();
          await expect.poll(() => page.getByTestId("auth-submit").isEnabled()).toBe(true);
          return page.getByTestId("auth-error").textContent();
        },
        { timeout: 20_000, interval: 300 },
      )
      .toMatch(/^Too many failed attempts\. Try again in \d+ seconds\.$/);
    await shot(page, SUITE, "login-backoff");
    await context.close();
  });

  it("delivers messages live both ways", async () => {
    await startDirect(alice, "bob");
    await send(alice, "hello bob");
    await expectTexts(alice, ["hello bob"]);
    // Bob sees the new conversation appear with an unread badge, then opens it.
    await expect.poll(() => bob.locator('[data-testid=conv-item][data-title="alice"] [data-testid=unread-badge]').textContent(), { timeout: 15_000 }).toBe("1");
    await shot(bob, SUITE, "bob-sees-unread");
    await openConversation(bob, "alice");
    await expectTexts(bob, ["hello bob"]);
    await send(bob, "hi alice!");
    await expectTexts(alice, ["hello bob", "hi alice!"]);
    await expectTexts(bob, ["hello bob", "hi alice!"]);
    await shot(alice, SUITE, "alice-conversation");
  });

  it("shows presence, typing and read receipts", async () => {
    // Bob is online: the dot next to him in Alice's list is green.
    await expect.poll(() => alice.locator('[data-testid=conv-item][data-title="bob"] [data-testid=presence-dot]').getAttribute("data-online")).toBe("true");
    await expect.poll(() => alice.getByTestId("conv-subtitle").textContent()).toBe("online");
    await bob.getByTestId("composer-input").pressSequentially("typing something", { delay: 20 });
    await expect.poll(() => alice.getByTestId("typing").textContent(), { timeout: 10_000 }).toBe("bob is typing…");
    await shot(alice, SUITE, "typing");
    await bob.getByTestId("composer-input").fill("");
    // Alice's last message was read by Bob (his conversation is open).
    await send(alice, "did you read this?");
    await expectTexts(bob, ["did you read this?"]);
    await expect.poll(() => alice.getByTestId("receipt").textContent(), { timeout: 10_000 }).toContain("Seen");
    await shot(alice, SUITE, "seen");
  });

  it("replies, edits and deletes", async () => {
    const target = bob.locator("[data-testid=message]", { hasText: "did you read this?" });
    await target.hover();
    await target.getByTestId("reply").click();
    await send(bob, "yes I did");
    await expect.poll(() => alice.locator("[data-testid=message]", { hasText: "yes I did" }).getByTestId("quote").textContent()).toBe("alice: did you read this?");

    const mine = alice.locator("[data-testid=message][data-state=delivered]", { hasText: "hello bob" });
    await mine.hover();
    await mine.getByTestId("edit").click();
    // The composer takes the message's text when it enters edit mode; typing
    // before that would be overwritten.
    await expect.poll(() => alice.getByTestId("composer-input").inputValue()).toBe("hello bob");
    await alice.getByTestId("composer-input").fill("hello bob (edited)");
    await alice.getByTestId("composer-input").press("Enter");
    await expect.poll(async () => (await texts(bob))[0]).toBe("hello bob (edited)");
    await expect.poll(() => bob.locator("[data-testid=message]").first().getByTestId("edited").count()).toBe(1);

    const other = alice.locator("[data-testid=message][data-state=delivered]", { hasText: "did you read this?" }).first();
    await other.hover();
    await other.getByTestId("delete").click();
    await expect.poll(async () => (await texts(bob)).includes("Message deleted")).toBe(true);
    await shot(bob, SUITE, "reply-edit-delete");
  });

  it("keeps the session and the history across a reload", async () => {
    const before = await texts(alice);
    await alice.reload();
    await expect.poll(() => alice.getByTestId("me").textContent()).toBe("alice");
    // The open conversation is in the URL.
    await expectTexts(alice, before);
    await shot(alice, SUITE, "after-reload");
    await send(alice, "still here after a reload");
    await expectTexts(bob, ["still here after a reload"]);
  });

  it("fits a phone-sized window", async () => {
    const { page, context } = await newUser(browser, parley.url, { width: 390, height: 740 });
    await page.getByLabel("Username").fill("bob");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByTestId("auth-submit").click();
    await openConversation(page, "alice");
    // One pane at a time: the list is hidden while a conversation is open.
    expect(await page.getByTestId("conv-list").isVisible()).toBe(false);
    await expectTexts(page, ["still here after a reload"]);
    await shot(page, SUITE, "phone");
    await page.getByTestId("back").click();
    expect(await page.getByTestId("conv-list").isVisible()).toBe(true);
    await context.close();
  });
});
