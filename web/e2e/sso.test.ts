// Single sign-on in the browser against a real OpenID provider (npm
// `oidc-provider`, started on a free port): "Sign in with Corp ID" creates
// the account on first sign-in and finds it again the next time; a person
// of a disallowed email domain, or outside the required group, is turned
// away with the reason; a callback whose state this browser did not start
// is refused (login CSRF); an authorization code that expired at the
// provider is refused.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expectNoPageErrors, freePort, launchBrowser, newUser, shot, startOidcProvider, startParley, waitOnline, type OidcProvider, type Parley } from "./harness";

const SUITE = "sso";
let provider: OidcProvider;
let parley: Parley;
let browser: Browser;

beforeAll(async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider(`${url}/v1/auth/oidc/callback`);
  parley = await startParley({
    port,
    config: `
[auth]
public_url = "${url}"

[[auth.oidc_providers]]
id = "corp"
name = "Corp ID"
issuer = "${provider.issuer}"
client_id = "parley"
client_secret = "parley-test-secret"
allowed_email_domains = ["example.com"]
required_group = "chat"
`,
  });
  browser = await launchBrowser();
});

afterEach(() => expectNoPageErrors());

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
  await provider?.stop();
});

/**
 * Through the provider's own screens: its login form (unless the browser
 * is still signed in there) and its consent screen (the first time).
 */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.getByTestId("sso-corp").click();
  const atProvider = () => page.url().includes("/interaction/");
  const back = () => page.url().startsWith(parley.url);
  await expect.poll(() => atProvider() || back(), { timeout: 15_000 }).toBe(true);
  if (atProvider() && (await page.locator("input[name=login]").count()) > 0) {
    await page.locator("input[name=login]").fill(login);
    await page.locator("input[name=password]").fill("anything");
    await page.locator("button[type=submit]").click();
    await expect.poll(() => (atProvider() && page.locator("input[name=login]").count().then((n) => n === 0)) || back(), { timeout: 15_000 }).toBeTruthy();
  }
  if (atProvider()) await page.locator("button[type=submit]").click();
}

/** A new browser profile: signed in nowhere, at Parley or the provider. */
const fresh = async () => (await newUser(browser, parley.url)).page;

describe("single sign-on", () => {
  it("creates the account on the first sign-in and finds it the next time", async () => {
    const page = await fresh();
    await expect.poll(() => page.getByTestId("sso-corp").textContent()).toBe("Sign in with Corp ID");
    await shot(page, SUITE, "sign-in-screen");
    await signInAtProvider(page, "ann");
    await expect.poll(() => page.getByTestId("me").textContent(), { timeout: 20_000 }).toBe("ann");
    await waitOnline(page);
    // The ticket does not stay in the address bar.
    expect(new URL(page.url()).hash).toBe("");
    await shot(page, SUITE, "signed-in");
    await page.getByTestId("logout").click();
    await expect.poll(() => page.getByTestId("auth-form").count()).toBe(1);
    // Again: the same account (linked by issuer and subject), not "ann-2".
    await signInAtProvider(page, "ann");
    await expect.poll(() => page.getByTestId("me").textContent(), { timeout: 20_000 }).toBe("ann");
    // No password of its own: a password login cannot get in.
    await page.getByTestId("logout").click();
    await page.getByLabel("Username").fill("ann");
    await page.getByLabel("Password").fill("anything goes here");
    await page.getByTestId("auth-submit").click();
    await expect.poll(() => page.getByTestId("auth-error").textContent()).toContain("Wrong username or password");
  });

  it("turns away a person of a disallowed email domain, and one outside the group", async () => {
    const eve = await fresh();
    await signInAtProvider(eve, "eve@evil.test");
    await expect.poll(() => eve.getByTestId("sso-error").textContent(), { timeout: 20_000 }).toContain("email domain may not sign in here");
    await shot(eve, SUITE, "disallowed-domain");
    expect(await eve.getByTestId("me").count()).toBe(0);
    const outsider = await fresh();
    await signInAtProvider(outsider, "outsider");
    await expect.poll(() => outsider.getByTestId("sso-error").textContent(), { timeout: 20_000 }).toContain("not in the group");
    expect(await outsider.getByTestId("me").count()).toBe(0);
  });

  it("refuses a callback this browser did not start (a forged state)", async () => {
    const page = await fresh();
    await page.goto("/v1/auth/oidc/callback?code=stolen&state=forged");
    await expect.poll(() => page.getByTestId("sso-error").textContent(), { timeout: 15_000 }).toContain("not started in this browser");
    expect(await page.getByTestId("me").count()).toBe(0);
  });

  it("refuses an authorization code that expired at the provider", async () => {
    const page = await fresh();
    // Hold the way back past the code's 5 s lifetime (oidc-provider.mjs),
    // as for a user who left the tab half-way. Playwright does not intercept
    // redirects, so the consent answer is taken here: its redirect is
    // followed by hand up to the callback URL with the fresh code, which
    // the browser is then sent to late.
    await page.route(`${provider.issuer}/interaction/*`, async (route) => {
      const consent = route.request().method() === "POST" && (route.request().postData() ?? "").includes("prompt=consent");
      if (!consent) return route.continue();
      const confirmed = await route.fetch({ maxRedirects: 0 });
      const resume = new URL(confirmed.headers()["location"]!, provider.issuer).toString();
      const resumed = await page.context().request.get(resume, { maxRedirects: 0 });
      const callback = resumed.headers()["location"]!;
      expect(callback).toContain("code=");
      await new Promise((r) => setTimeout(r, 6_500));
      await route.fulfill({ status: 303, headers: { location: callback } });
    });
    await signInAtProvider(page, "bob");
    await expect.poll(() => page.getByTestId("sso-error").textContent(), { timeout: 30_000 }).toContain("may have expired");
    expect(await page.getByTestId("me").count()).toBe(0);
  });
});
