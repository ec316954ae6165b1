// End-to-end test harness: a real `parley up` on a free port with its own
// data directory, headless Chromium through playwright-core, a TCP proxy that
// can cut a browser off the network, and screenshots kept for people to look at.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");

/** Where screenshots go: E2E_ARTIFACTS, or web/e2e-artifacts. */
export const ARTIFACTS = resolve(process.env.E2E_ARTIFACTS ?? join(repo, "web", "e2e-artifacts"));

export interface Parley {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `parley up` (the binary in E2E_PARLEY_BIN, or target/debug/parley)
 * on 127.0.0.1 with a port chosen by the OS, and waits for it to print its URL.
 * `invitations` is `gateway.invitations` (default here: "never").
 */
export async function startParley(opts: { invitations?: "strangers" | "always" | "never"; port?: number; config?: string } = {}): Promise<Parley> {
  const bin = process.env.E2E_PARLEY_BIN ?? join(repo, "target", "debug", "parley");
  const dataDir = mkdtempSync(join(tmpdir(), "parley-e2e-"));
  // PARLEY_* variables are configuration: pass only ours.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PARLEY_")));
  Object.assign(env, {
    PARLEY_LISTEN: `127.0.0.1:${opts.port ?? 0}`,
    PARLEY_DATA_DIR: dataDir,
    PARLEY_LOG: "warn",
    PARLEY_DB_CACHE_MIB: "16",
    // Most tests are about something else than consent: people are added
    // to groups directly unless a test asks for invitations.
    PARLEY_GATEWAY__INVITATIONS: opts.invitations ?? "never",
    // Every test user signs up from 127.0.0.1.
    PARLEY_GATEWAY__REGISTRATIONS_PER_HOUR_PER_ADDRESS: "0",
  });
  if (opts.config) {
    const file = join(dataDir, "parley.toml");
    writeFileSync(file, opts.config, { mode: 0o600 });
    env.PARLEY_CONFIG = file;
  }
  const child = spawn(bin, ["up"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`parley did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /Parley is running at (http:\/\/\S+?)\/\s/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`parley exited with ${code} before starting: ${stderr}`));
    });
  });
  return {
    url,
    async stop() {
      await stopProcess(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A port free right now (for a server whose address must be known before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

export interface OidcProvider {
  issuer: string;
  stop(): Promise<void>;
}

/**
 * A real OpenID provider (npm `oidc-provider`, e2e/oidc-provider.mjs) on a
 * free port, with one client for Parley redirecting to `redirectUri`.
 */
export async function startOidcProvider(redirectUri: string): Promise<OidcProvider> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, "oidc-provider.mjs"), String(port), redirectUri], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the OpenID provider did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("OIDC provider ready")) {
        clearTimeout(timer);
        ok();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`the OpenID provider exited with ${code}: ${stderr}`));
    });
  });
  return { issuer: `http://127.0.0.1:${port}`, stop: () => stopProcess(child) };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A TCP proxy in front of the server. `cut()` drops every connection through
 * it and refuses new ones until `restore()`: a browser that loses its network.
 * (Playwright's offline mode does not affect open WebSockets.)
 */
export interface Proxy {
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("proxy has no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new browser profile (its own storage: one person on one device). */
export async function newUser(browser: Browser, baseUrl: string, viewport = { width: 1100, height: 720 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${e.message}`));
  page.on("dialog", (d) => void d.accept());
  await page.goto("/");
  return { context, page };
}

/** Uncaught errors and unhandled rejections in any page: a test fails on them. */
const pageErrors: string[] = [];

export function expectNoPageErrors(): void {
  const errors = pageErrors.splice(0);
  expect(errors, "uncaught errors in the pages").toEqual([]);
}

let shotCount = 0;
let announced = false;

/** Saves a screenshot under ARTIFACTS/<suite>/NN-<name>.png. */
export async function shot(page: Page, suite: string, name: string): Promise<void> {
  const dir = join(ARTIFACTS, suite);
  mkdirSync(dir, { recursive: true });
  if (!announced) {
    announced = true;
    console.log(`screenshots: ${ARTIFACTS}`);
  }
  shotCount++;
  await page.screenshot({ path: join(dir, `${String(shotCount).padStart(2, "0")}-${name}.png`) });
}

export async function signUp(page: Page, username: string, password = "correct horse battery"): Promise<void> {
  await page.getByTestId("tab-register").click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("auth-submit").click();
  await expect.poll(() => page.getByTestId("me").textContent(), { timeout: 15_000 }).toBe(username);
  await waitOnline(page);
}

export async function waitOnline(page: Page): Promise<void> {
  await expect.poll(() => page.getByTestId("status").getAttribute("data-state"), { timeout: 20_000 }).toBe("online");
}

export async function startDirect(page: Page, username: string): Promise<void> {
  await page.getByTestId("new-direct").click();
  await page.getByTestId("usernames").fill(username);
  await page.getByTestId("new-chat-submit").click();
  await expect.poll(() => page.getByTestId("conv-title").textContent()).toBe(username);
}

export async function openConversation(page: Page, title: string): Promise<void> {
  await page.locator(`[data-testid=conv-item][data-title="${title}"]`).click();
  await expect.poll(() => page.getByTestId("conv-title").textContent()).toBe(title);
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer-input").fill(text);
  await page.getByTestId("composer-input").press("Enter");
}

/** The texts of the delivered messages on screen, in order. */
export async function texts(page: Page): Promise<string[]> {
  return page.locator('[data-testid=message][data-state=delivered] [data-testid=text]').allTextContents();
}

/** Waits until the delivered messages on screen end with `expected`. */
export async function expectTexts(page: Page, expected: string[], timeout = 15_000): Promise<void> {
  await expect.poll(async () => (await texts(page)).slice(-expected.length), { timeout }).toEqual(expected);
}
