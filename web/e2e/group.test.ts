// A group of three created in the browser: everyone sees every message live
// and in the same order; a fourth person added later sees the group appear.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectTexts, launchBrowser, newUser, openConversation, send, shot, signUp, startParley, texts, type Parley, expectNoPageErrors } from "./harness";

const SUITE = "group";
let parley: Parley;
let browser: Browser;
const pages: Record<string, Page> = {};

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  for (const name of ["carol", "dave", "erin", "frank"]) pages[name] = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

describe("a group of three", () => {
  it("signs four people up", async () => {
    for (const name of ["carol", "dave", "erin", "frank"]) await signUp(pages[name]!, name);
  });

  it("is created with a title and members, and appears for every member", async () => {
    const carol = pages.carol!;
    await carol.getByTestId("new-group").click();
    await carol.getByTestId("group-title").fill("Launch plan");
    await carol.getByTestId("usernames").fill("dave, erin");
    await carol.getByTestId("new-chat-submit").click();
    await expect.poll(() => carol.getByTestId("conv-title").textContent()).toBe("Launch plan");
    for (const name of ["dave", "erin"]) await openConversation(pages[name]!, "Launch plan");
    await expect.poll(() => carol.getByTestId("conv-subtitle").textContent()).toBe("3 members, 2 online");
  });

  it("delivers everyone's messages to everyone, in one order", async () => {
    await send(pages.carol!, "kickoff at 10");
    await send(pages.dave!, "works for me");
    await send(pages.erin!, "I'll bring the slides");
    const all = ["kickoff at 10", "works for me", "I'll bring the slides"];
    for (const name of ["carol", "dave", "erin"]) {
      await expect.poll(async () => [...(await texts(pages[name]!))].sort(), { timeout: 15_000 }).toEqual([...all].sort());
    }
    // Same seq order on every screen, whatever order the sends raced in.
    const order = await texts(pages.carol!);
    expect(await texts(pages.dave!)).toEqual(order);
    expect(await texts(pages.erin!)).toEqual(order);
    await shot(pages.dave!, SUITE, "three-people");
  });

  it("lets the owner add a fourth person, who sees the group and its history", async () => {
    const carol = pages.carol!;
    await carol.getByTestId("add-people").click();
    await carol.getByTestId("add-usernames").fill("frank");
    await carol.getByTestId("add-submit").click();
    await expect.poll(() => carol.getByTestId("conv-subtitle").textContent()).toBe("4 members, 3 online");
    const frank = pages.frank!;
    await openConversation(frank, "Launch plan");
    await expectTexts(frank, await texts(carol));
    await send(frank, "glad to join");
    for (const name of ["carol", "dave", "erin"]) await expectTexts(pages[name]!, ["glad to join"]);
    await expect.poll(() => carol.locator("[data-testid=notice]").last().textContent()).toBe("carol added frank");
    await shot(frank, SUITE, "fourth-member");
  });

  it("lets a member leave: the group disappears for them and the others are told", async () => {
    const erin = pages.erin!;
    await erin.getByTestId("leave").click();
    await expect.poll(() => erin.locator('[data-testid=conv-item][data-title="Launch plan"]').count()).toBe(0);
    await expect.poll(() => pages.carol!.locator("[data-testid=notice]").last().textContent()).toBe("erin left");
    await expect.poll(() => pages.carol!.getByTestId("conv-subtitle").textContent()).toMatch(/^3 members/);
    await shot(pages.carol!, SUITE, "member-left");
  });

  it("lets the owner rename and describe the group, appoint an admin and hand ownership over", async () => {
    const carol = pages.carol!;
    const dave = pages.dave!;
    await carol.getByTestId("group-settings-toggle").click();
    await carol.getByTestId("group-name").fill("Launch v2");
    await carol.getByTestId("group-description").fill("Everything about the launch");
    await shot(carol, SUITE, "group-settings");
    await carol.getByTestId("group-save").click();
    for (const page of [carol, dave]) {
      await expect.poll(() => page.getByTestId("conv-title").textContent(), { timeout: 15_000 }).toBe("Launch v2");
    }
    await expect.poll(() => dave.locator("[data-testid=notice]").last().textContent()).toBe("carol renamed the group to “Launch v2” and changed the description");
    // Dave, a member, sees the settings read-only.
    await dave.getByTestId("group-settings-toggle").click();
    await expect.poll(() => dave.getByTestId("group-description").inputValue()).toBe("Everything about the launch");
    expect(await dave.getByTestId("group-save").count()).toBe(0);
    await dave.getByTestId("group-settings-toggle").click();
    // Carol makes Dave an admin, then the owner.
    await carol.getByTestId("group-settings-toggle").click();
    await carol.locator('[data-testid=member-role][data-user="dave"] [data-testid=role-select]').selectOption("ROLE_ADMIN");
    await expect.poll(() => dave.locator("[data-testid=notice]").last().textContent(), { timeout: 15_000 }).toBe("carol made dave an admin");
    await carol.locator('[data-testid=member-role][data-user="dave"] [data-testid=make-owner]').click();
    await expect.poll(() => dave.locator("[data-testid=notice]").last().textContent(), { timeout: 15_000 }).toBe("You are now the owner");
    await expect.poll(() => carol.locator('[data-testid=member-role][data-user="dave"]').getAttribute("data-role")).toBe("ROLE_OWNER");
    await expect.poll(() => carol.locator('[data-testid=member-role][data-user="carol"]').getAttribute("data-role")).toBe("ROLE_ADMIN");
    await shot(carol, SUITE, "ownership-handed-over");
  });

  it("hides earlier messages from members added later when the group says so", async () => {
    const dave = pages.dave!;
    await dave.getByTestId("group-settings-toggle").click();
    await dave.getByTestId("history-for-new-members").uncheck();
    await dave.getByTestId("group-save").click();
    await expect.poll(() => dave.locator("[data-testid=notice]").last().textContent(), { timeout: 15_000 }).toBe("dave hid earlier messages from new members");
    const gwen = (await newUser(browser, parley.url)).page;
    await signUp(gwen, "gwen");
    await dave.getByTestId("add-people").click();
    await dave.getByTestId("add-usernames").fill("gwen");
    await dave.getByTestId("add-submit").click();
    await send(dave, "welcome gwen");
    await openConversation(gwen, "Launch v2");
    await expectTexts(gwen, ["welcome gwen"]);
    expect(await texts(gwen)).toEqual(["welcome gwen"]);
    await expect.poll(() => gwen.getByTestId("history-start").textContent()).toBe("Messages from before you joined are not shown in this group.");
    await shot(gwen, SUITE, "history-since-joined");
  });
});
