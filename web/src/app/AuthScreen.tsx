import { useEffect, useState } from "preact/hooks";
import { ParleyError, type ParleyClient, type RegistrationMode, type SsoProvider } from "../sdk";
import { useSubmit } from "./useSubmit";

type Mode = "login" | "register";

/** An invite link is the app's address with `#invite=<code>`. */
function inviteFromHash(): string {
  const m = /^#invite=([A-Za-z0-9_-]{1,128})$/.exec(location.hash);
  return m ? m[1]! : "";
}

export function AuthScreen({ client }: { client: ParleyClient }) {
  const [invite, setInvite] = useState(inviteFromHash);
  const [mode, setMode] = useState<Mode>(invite ? "register" : "login");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  // Who may sign up here: no sign-up tab when nobody may.
  const [registration, setRegistration] = useState<RegistrationMode>("REGISTRATION_MODE_OPEN");
  // An invite link opened while this page is already showing.
  useEffect(() => {
    const onHash = () => {
      const code = inviteFromHash();
      if (code) {
        setInvite(code);
        setMode("register");
      }
    };
    // Also now: the address may have changed before this screen listened.
    onHash();
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    client.api
      .registrationMode()
      .then(setRegistration)
      .catch(() => undefined);
  }, []);
  // Single sign-on: the providers' buttons, and the way back from one
  // (`#sso=<ticket>` to redeem, or `#sso_error=<why>`).
  const [providers, setProviders] = useState<SsoProvider[]>([]);
  const [ssoError, setSsoError] = useState("");
  const [ssoBusy, setSsoBusy] = useState(false);
  useEffect(() => {
    client.api
      .providers()
      .then(setProviders)
      .catch(() => undefined);
    const ticket = /^#sso=([A-Za-z0-9_-]{1,128})$/.exec(location.hash);
    const failed = /^#sso_error=(.*)$/.exec(location.hash);
    if (ticket || failed) history.replaceState(null, "", location.pathname + location.search);
    if (failed) {
      const why = decodeURIComponent(failed[1]!.replace(/\+/g, " "));
      setSsoError(why.charAt(0).toUpperCase() + why.slice(1));
    }
    if (ticket) {
      setSsoBusy(true);
      client
        .signInWithTicket(ticket[1]!)
        .catch((e) => setSsoError(describe(e, "login")))
        .finally(() => setSsoBusy(false));
    }
  }, []);
  const canRegister = registration === "REGISTRATION_MODE_OPEN" || registration === "REGISTRATION_MODE_INVITE_ONLY";
  const why = client.signedOutBecause;
  const { submit, error, busy } = useSubmit(
    async () => {
      const name = username.trim().toLowerCase();
      if (mode === "register") {
        await client.register(name, password, invite.trim());
        if (inviteFromHash()) history.replaceState(null, "", location.pathname + location.search);
      } else await client.login(name, password);
    },
    (err) => describe(err, mode),
    why && why !== "signed out" ? why : "",
  );

  return (
    <main class="auth">
      <form class="auth-card" onSubmit={submit} data-testid="auth-form">
        <h1 class="brand">Parley</h1>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "login"} class={mode === "login" ? "tab active" : "tab"} onClick={() => setMode("login")}>
            Log in
          </button>
          {canRegister && (
            <button type="button" role="tab" aria-selected={mode === "register"} class={mode === "register" ? "tab active" : "tab"} onClick={() => setMode("register")} data-testid="tab-register">
              Sign up
            </button>
          )}
        </div>
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_\-]+"
            title="3-32 letters, digits, _ or -"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete={mode === "register" ? "new-password" : "current-password"}
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {mode === "register" && (registration === "REGISTRATION_MODE_INVITE_ONLY" || invite !== "") && (
          <label>
            Invite code
            <input name="invite" required autocapitalize="none" spellcheck={false} value={invite} onInput={(e) => setInvite(e.currentTarget.value)} data-testid="invite-code" />
          </label>
        )}
        {!canRegister && <p class="hint" data-testid="no-signup">Accounts here are created by an administrator.</p>}
        {mode === "register" && <p class="hint">Usernames: 3-32 characters, a-z 0-9 _ -. Passwords: at least 8 characters.</p>}
        {error && (
          <p class="error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy} data-testid="auth-submit">
          {busy ? "…" : mode === "register" ? "Create account" : "Log in"}
        </button>
        {ssoError && (
          <p class="error" role="alert" data-testid="sso-error">
            {ssoError}
          </p>
        )}
        {providers.length > 0 && (
          <div class="sso">
            <p class="hint">or</p>
            {providers.map((p) => (
              <a key={p.id} class={ssoBusy ? "button sso-button busy" : "button sso-button"} href={client.ssoStartUrl(p.id)} data-testid={`sso-${p.id}`}>
                Sign in with {p.name}
              </a>
            ))}
          </div>
        )}
      </form>
    </main>
  );
}

function describe(err: unknown, mode: Mode): string {
  if (err instanceof ParleyError) {
    if (err.code === "already_exists") return "That username is taken.";
    if (err.code === "unauthenticated") return mode === "login" ? "Wrong username or password." : err.message;
    if (err.code === "network" || err.code === "unavailable") return "Cannot reach the server. Try again in a moment.";
    if (err.code === "rate_limited") {
      const secs = Math.ceil(err.retryAfterMs / 1000);
      return secs > 1 ? `Too many failed attempts. Try again in ${secs} seconds.` : "Too many attempts. Wait a little and try again.";
    }
    return err.message;
  }
  return String(err);
}
