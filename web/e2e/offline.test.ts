// A browser that loses its network: it shows it is offline, keeps what its
// user types in the outbox, and when the network is back it reconnects,
// catches up on what it missed and sends what was typed. Then a long history
// loads page by page as the user scrolls up.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
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
  startProxy,
  texts,
  waitOnline,
  type Parley,
  type Proxy,
  expectNoPageErrors,
} from "./harness";

const SUITE = "offline";
let parley: Parley;
let proxy: Proxy;
let browser: Browser;
let alice: Page;
let bob: Page;
let bobContext: BrowserContext;

beforeAll(async () => {
  parley = await startParley();
  proxy = await startProxy(parley.url);
  browser = await launchBrowser();
  alice = (await newUser(browser, parley.url)).page;
  // Bob reaches the server through the proxy, which can cut him off.
  ({ page: bob, context: bobContext } = await newUser(browser, proxy.url));
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await parley?.stop();
});

describe("going offline and coming back", () => {
  it("catches up on missed messages and sends what was typed offline", async () => {
    await signUp(alice, "alice");
    await signUp(bob, "bob");
    await startDirect(alice, "bob");
    await send(alice, "before the tunnel");
    await expect.poll(() => bob.locator('[data-testid=conv-item][data-title="alice"]').count(), { timeout: 15_000 }).toBe(1);
    await openConversation(bob, "alice");
    await expectTexts(bob, ["before the tunnel"]);

    proxy.cut();
    await bobContext.setOffline(true);
    await expect.poll(() => bob.getByTestId("status").getAttribute("data-state"), { timeout: 15_000 }).not.toBe("online");
    await send(bob, "typed in the tunnel");
    await expect.poll(() => bob.locator("[data-testid=message][data-state=sending]").count()).toBe(1);
    await shot(bob, SUITE, "offline-with-pending");

    for (const t of ["missed one", "missed two", "missed three"]) await send(alice, t);
    await expectTexts(alice, ["missed one", "missed two", "missed three"]);

    proxy.restore();
    await bobContext.setOffline(false);
    await waitOnline(bob);
    await expect
      .poll(async () => (await texts(bob)).filter((t) => t.startsWith("missed")), { timeout: 20_000 })
      .toEqual(["missed one", "missed two", "missed three"]);
    await expect.poll(() => bob.locator("[data-testid=message][data-state=sending]").count(), { timeout: 20_000 }).toBe(0);
    await expect.poll(async () => (await texts(alice)).includes("typed in the tunnel"), { timeout: 20_000 }).toBe(true);
    // Sent once, whatever retries happened.
    expect((await texts(alice)).filter((t) => t === "typed in the tunnel")).toHaveLength(1);
    await shot(bob, SUITE, "back-online");
  });

  it("loads a long history page by page when scrolling up", async () => {
    const convId = new URL(alice.url()).hash.replace("#c=", "");
    const count = 130;
    // Alice's other device sends a burst over the protocol directly.
    await alice.evaluate(
      async ({ convId, count }) => {
        const session = JSON.parse(localStorage.getItem("parley.session")!);
        const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/v1/ws", ["parley.v1.json"]);
        await new Promise((r) => (ws.onopen = r));
        let acks = 0;
        const done = new Promise<void>((resolve, reject) => {
          ws.onmessage = (m) => {
            const f = JSON.parse(m.data);
            if (f.error) reject(new Error(JSON.stringify(f.error)));
            if (f.ack && ++acks === count) resolve();
          };
        });
        ws.send(JSON.stringify({ id: "auth", authenticate: { accessToken: session.accessToken } }));
        for (let i = 1; i <= count; i++) {
          ws.send(JSON.stringify({ id: `s${i}`, send: { conversationId: convId, clientMsgId: `burst-${i}`, message: { text: `burst ${i}` } } }));
        }
        await done;
        ws.close();
      },
      { convId, count },
    );
    await expectTexts(bob, [`burst ${count}`]);
    // Bob opens the page fresh: only the newest page loads at first.
    await bob.reload();
    await expectTexts(bob, [`burst ${count}`]);
    const firstScreen = (await texts(bob)).length;
    expect(firstScreen).toBeLessThan(count);
    for (let i = 0; i < 20 && (await bob.locator(".start", { hasText: "beginning" }).count()) === 0; i++) {
      await bob.getByTestId("messages").evaluate((el) => (el.scrollTop = 0));
      await bob.waitForTimeout(100);
    }
    await shot(bob, SUITE, "history-top");
    const all = (await texts(bob)).filter((t) => t.startsWith("burst "));
    expect(all).toEqual(Array.from({ length: count }, (_, i) => `burst ${i + 1}`));
    expect(await bob.locator(".start", { hasText: "beginning" }).count()).toBe(1);
  });
});
