import { useEffect, useState } from "preact/hooks";
import type { ParleyClient, SessionInfo } from "../sdk";
import { agentSummary, when } from "./format";
import { errorText, useSubmit } from "./useSubmit";

/** One's sessions (devices), to end any of them, and the password. */
export function AccountPanel({ client, onClose }: { client: ParleyClient; onClose(): void }) {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState("");

  const load = async () => {
    try {
      setSessions(await client.account.sessions());
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);

  const act = async (f: () => Promise<void>) => {
    try {
      await f();
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };

  const others = (sessions ?? []).filter((s) => !s.current);
  return (
    <section class="pane settings-pane" data-testid="account-panel">
      <header class="pane-head">
        <div class="pane-title">
          <h2>Your account</h2>
          <p class="hint">{client.session?.username}</p>
        </div>
        <button onClick={onClose} data-testid="close-panel">
          Close
        </button>
      </header>
      <div class="settings-body">
        <h3>Where you're signed in</h3>
        {error && (
          <p class="error" role="alert" data-testid="account-error">
            {error}
          </p>
        )}
        {sessions === null ? (
          <p class="hint">Loading…</p>
        ) : (
          <ul class="session-list" data-testid="session-list">
            {sessions.map((s) => (
              <li key={s.sessionId} data-testid="session" data-current={s.current ? "yes" : "no"} data-device={s.deviceName}>
                <div class="session-what">
                  <div class="session-name">
                    <strong>{s.deviceName || "Unnamed device"}</strong>
                    {s.current && <span class="tag">this device</span>}
                  </div>
                  <span class="hint">
                    {[agentSummary(s.userAgent), s.clientAddress].filter((x) => x && x !== s.deviceName).join(" · ")}
                  </span>
                  <span class="hint">
                    Signed in {when(s.createdAtMs)} · last active {when(s.lastSeenMs)}
                  </span>
                </div>
                {!s.current && (
                  <button onClick={() => void act(() => client.account.endSessions([s.sessionId]))} data-testid="end-session">
                    Sign out
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        {others.length > 0 && (
          <button onClick={() => void act(() => client.account.endOtherSessions())} data-testid="end-other-sessions">
            Sign out everywhere else
          </button>
        )}
        <Profile client={client} />
        <ChangePassword client={client} onChanged={load} />
      </div>
    </section>
  );
}

function ChangePassword({ client, onChanged }: { client: ParleyClient; onChanged(): Promise<void> }) {
  const [old, setOld] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const { submit, error, busy } = useSubmit(async () => {
    setDone(false);
    await client.account.changePassword(old, next);
    setOld("");
    setNext("");
    setDone(true);
    await onChanged();
  });
  return (
    <form class="settings-form" onSubmit={submit} data-testid="change-password">
      <h3>Change password</h3>
      <p class="hint">Every other device is signed out.</p>
      <input type="password" autocomplete="current-password" placeholder="Current password" required value={old} onInput={(e) => setOld(e.currentTarget.value)} data-testid="old-password" />
      <input type="password" autocomplete="new-password" placeholder="New password (at least 8 characters)" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} data-testid="new-password" />
      {error && (
        <p class="error" role="alert" data-testid="password-error">
          {error}
        </p>
      )}
      {done && (
        <p class="hint" data-testid="password-changed">
          Password changed.
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        Change password
      </button>
    </form>
  );
}

/** What others see of me: a display name and a status line. */
function Profile({ client }: { client: ParleyClient }) {
  const [name, setName] = useState("");
  const [status, setStatus] = useState("");
  const [saved, setSaved] = useState(false);
  // Editable once the current values are in (typing earlier would be overwritten).
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    client.account
      .me()
      .then((a) => {
        setName(a.displayName);
        setStatus(a.statusText);
      })
      .catch(() => undefined)
      .finally(() => setLoaded(true));
  }, []);
  const { submit, error, busy } = useSubmit(async () => {
    setSaved(false);
    const a = await client.account.updateProfile(name, status);
    setName(a.displayName);
    setStatus(a.statusText);
    setSaved(true);
  });
  return (
    <form class="settings-form" onSubmit={submit} data-testid="profile">
      <h3>Profile</h3>
      <input placeholder={`Display name (else ${client.session?.username ?? "your username"})`} maxLength={64} disabled={!loaded} value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="display-name" />
      <input placeholder="Status (e.g. On leave until Monday)" maxLength={140} disabled={!loaded} value={status} onInput={(e) => setStatus(e.currentTarget.value)} data-testid="status-text" />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {saved && (
        <p class="hint" data-testid="profile-saved">
          Saved. Others see it the next time they load your name.
        </p>
      )}
      <button type="submit" class="primary" disabled={busy || !loaded} data-testid="save-profile">
        Save profile
      </button>
    </form>
  );
}
