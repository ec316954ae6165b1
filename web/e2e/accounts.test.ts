// Accounts in the browser: the first account is the admin; a user sees
// their devices and signs the others out; an admin finds a person,
// deactivates them (signed out at once, refused at sign-in) and back;
// invite-only sign-up through an invite link; the audit log of it all.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, launchBrowser, newUser, shot, signUp, waitOnline, type Parley, startParley } from "./harness";

const SUITE = "accounts";
const PASSWORD = "correct horse battery";
let parley: Parley;
let browser: Browser;
let root: Page;
let bob: Page;
let bobPhone: Page;

beforeAll(async () => {
  parley = await startParley();
  browser = await launchBrowser();
  root = (await newUser(browser, parley.url)).page;
  bob = (await newUser(browser, parley.url)).page;
  bobPhone = (await newUser(browser, parley.url)).page;
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

async function logIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("auth-submit").click();
}

const signedOut = (page: Page) => page.getByTestId("auth-form").count();

describe("accounts", () => {
  it("makes the first account the admin, and only it", async () => {
    await signUp(root, "root");
    await signUp(bob, "bob");
    await expect.poll(() => root.getByTestId("open-admin").count()).toBe(1);
    expect(await bob.getByTestId("open-admin").count()).toBe(0);
  });

  it("lists a user's devices and signs the others out", async () => {
    await logIn(bobPhone, "bob");
    await waitOnline(bobPhone);
    await bob.getByTestId("open-account").click();
    const sessions = bob.getByTestId("session");
    await expect.poll(() => sessions.count()).toBe(2);
    await expect.poll(() => bob.locator('[data-testid=session][data-current=yes]').count()).toBe(1);
    await expect.poll(() => bob.locator('[data-testid=session][data-current=yes]').textContent()).toContain("127.0.0.1");
    await shot(bob, SUITE, "sessions");
    await bob.getByTestId("end-other-sessions").click();
    // The phone is signed out at once, and its token opens nothing.
    await expect.poll(() => signedOut(bobPhone), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => sessions.count()).toBe(1);
    await bob.getByTestId("close-panel").click();
  });

  it("lets an admin deactivate a person, who is shut out until reactivated", async () => {
    await root.getByTestId("open-admin").click();
    await root.getByTestId("admin-search").fill("bo");
    const row = root.locator('[data-testid=account][data-user=bob]');
    await expect.poll(() => row.count()).toBe(1);
    await row.locator(".account-row").click();
    await row.getByTestId("deactivate").click();
    await expect.poll(() => row.getByTestId("deactivated-badge").count()).toBe(1);
    await shot(root, SUITE, "deactivated");
    await expect.poll(() => signedOut(bob), { timeout: 15_000 }).toBe(1);
    await logIn(bob, "bob");
    await expect.poll(() => bob.getByTestId("auth-error").textContent()).toContain("deactivated");
    await row.getByTestId("reactivate").click();
    await expect.poll(() => row.getByTestId("deactivated-badge").count()).toBe(0);
    await logIn(bob, "bob");
    await expect.poll(() => bob.getByTestId("me").textContent(), { timeout: 15_000 }).toBe("bob");
  });

  it("turns sign-up to invite-only and lets a newcomer in through an invite link", async () => {
    await root.getByTestId("admin-tab-signup").click();
    await root.getByTestId("registration-mode").selectOption("REGISTRATION_MODE_INVITE_ONLY");
    await expect.poll(() => root.getByTestId("registration-mode").inputValue()).toBe("REGISTRATION_MODE_INVITE_ONLY");
    await root.getByTestId("invite-note").fill("for carol");
    await root.getByTestId("create-invite-submit").click();
    await expect.poll(() => root.getByTestId("invite-link").inputValue()).toContain("#invite=");
    const url = await root.getByTestId("invite-link").inputValue();
    await expect.poll(() => root.getByTestId("invite").count()).toBe(1);
    await shot(root, SUITE, "invite");

    // Without a code, a stranger's sign-up is refused.
    const stranger = (await newUser(browser, parley.url)).page;
    await stranger.getByTestId("tab-register").click();
    await stranger.getByLabel("Username").fill("walkin");
    await stranger.getByLabel("Password").fill(PASSWORD);
    await stranger.getByTestId("invite-code").fill("made-up-code");
    await stranger.getByTestId("auth-submit").click();
    await expect.poll(() => stranger.getByTestId("auth-error").textContent()).toContain("invite code");

    // The link opens the sign-up form with the code filled in.
    const carol = (await newUser(browser, parley.url)).page;
    await carol.goto(url);
    await expect.poll(() => carol.getByTestId("invite-code").inputValue()).not.toBe("");
    await carol.getByLabel("Username").fill("carol");
    await carol.getByLabel("Password").fill(PASSWORD);
    await carol.getByTestId("auth-submit").click();
    await expect.poll(() => carol.getByTestId("me").textContent(), { timeout: 15_000 }).toBe("carol");
    // Its one use is spent.
    await expect.poll(async () => {
      await root.getByTestId("admin-tab-people").click();
      await root.getByTestId("admin-tab-signup").click();
      return root.getByTestId("invite").count();
    }).toBe(0);
  });

  it("records every admin action in the audit log", async () => {
    await root.getByTestId("admin-tab-audit").click();
    const actions = () => root.getByTestId("audit-entry").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    await expect.poll(actions).toEqual(["invite.create", "registration.set", "account.reactivate", "account.deactivate"]);
    await expect.poll(() => root.getByTestId("audit-entry").first().textContent()).toContain("root");
    await shot(root, SUITE, "audit-log");
  });
});

describe("profiles", () => {
  it("shows a person's display name and status to the people they talk to", async () => {
    await root.getByTestId("close-panel").click();
    await root.getByTestId("open-account").click();
    await root.getByTestId("display-name").fill("Root Admin");
    await root.getByTestId("status-text").fill("On call this week");
    await root.getByTestId("save-profile").click();
    await expect.poll(() => root.getByTestId("profile-saved").count()).toBe(1);
    await shot(root, SUITE, "profile");
    // Bob writes to root by username and sees the name root chose.
    await bob.getByTestId("new-direct").click();
    await bob.getByTestId("usernames").fill("root");
    await bob.getByTestId("new-chat-submit").click();
    await expect.poll(() => bob.getByTestId("conv-title").textContent()).toBe("Root Admin");
    await expect.poll(() => bob.getByTestId("partner-status").textContent()).toBe("On call this week");
    // Starting another conversation offers the people bob shares one with.
    await bob.getByTestId("new-direct").click();
    await expect.poll(() => bob.locator("[data-testid=people] option").evaluateAll((os) => os.map((o) => [o.getAttribute("value"), o.textContent]))).toEqual([["root", "Root Admin"]]);
    await bob.getByRole("button", { name: "Cancel" }).click();
    await shot(bob, SUITE, "display-name");
  });
});
