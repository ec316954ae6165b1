import { useEffect, useState } from "preact/hooks";
import type { Account, AuditEntry, Invite, ParleyClient, RegistrationMode, SessionInfo } from "../sdk";
import { agentSummary, when } from "./format";
import { errorText, useSubmit } from "./useSubmit";

type Tab = "people" | "signup" | "audit";

/** Administration: people, who may sign up (with invites), the audit log. */
export function AdminPanel({ client, onClose }: { client: ParleyClient; onClose(): void }) {
  const [tab, setTab] = useState<Tab>("people");
  return (
    <section class="pane settings-pane" data-testid="admin-panel">
      <header class="pane-head">
        <div class="pane-title">
          <h2>Administration</h2>
        </div>
        <button onClick={onClose} data-testid="close-panel">
          Close
        </button>
      </header>
      <div class="tabs admin-tabs" role="tablist">
        {(
          [
            ["people", "People"],
            ["signup", "Sign-up"],
            ["audit", "Audit log"],
          ] as const
        ).map(([id, label]) => (
          <button key={id} role="tab" aria-selected={tab === id} class={tab === id ? "tab active" : "tab"} onClick={() => setTab(id)} data-testid={`admin-tab-${id}`}>
            {label}
          </button>
        ))}
      </div>
      <div class="settings-body">
        {tab === "people" && <People client={client} />}
        {tab === "signup" && <SignUp client={client} />}
        {tab === "audit" && <Audit client={client} />}
      </div>
    </section>
  );
}

function People({ client }: { client: ParleyClient }) {
  const [prefix, setPrefix] = useState("");
  const [accounts, setAccounts] = useState<Account[]>([]);
  const [next, setNext] = useState("");
  const [open, setOpen] = useState("");
  const [error, setError] = useState("");

  const load = async (p: string, after = "") => {
    try {
      const page = await client.account.listAccounts(p, after);
      setAccounts((a) => (after ? [...a, ...page.accounts] : page.accounts));
      setNext(page.next);
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(prefix.trim().toLowerCase()), [prefix]);

  const replace = (a: Account) => setAccounts((list) => list.map((x) => (x.userId === a.userId ? a : x)));

  return (
    <div>
      <input placeholder="Find people by username" autocapitalize="none" spellcheck={false} value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} data-testid="admin-search" />
      {error && (
        <p class="error" role="alert" data-testid="admin-error">
          {error}
        </p>
      )}
      <ul class="account-list" data-testid="account-list">
        {accounts.map((a) => (
          <li key={a.userId} data-testid="account" data-user={a.username}>
            <button class="account-row" onClick={() => setOpen(open === a.userId ? "" : a.userId)}>
              <strong>{a.username}</strong>
              {a.role === "ACCOUNT_ROLE_ADMIN" && <span class="tag">admin</span>}
              {a.deactivatedAtMs > 0 && (
                <span class="tag danger" data-testid="deactivated-badge">
                  deactivated
                </span>
              )}
              <span class="hint">joined {when(a.createdAtMs)}</span>
            </button>
            {open === a.userId && <AccountDetail client={client} account={a} onChanged={replace} />}
          </li>
        ))}
      </ul>
      {next && <button onClick={() => void load(prefix.trim().toLowerCase(), next)}>More</button>}
      <CreateAccount client={client} onCreated={() => void load(prefix.trim().toLowerCase())} />
    </div>
  );
}

function AccountDetail({ client, account, onChanged }: { client: ParleyClient; account: Account; onChanged(a: Account): void }) {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [password, setPassword] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  const self = account.userId === client.me;

  const loadSessions = async () => {
    try {
      setSessions((await client.account.accountDetail(account.userId)).sessions);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void loadSessions(), [account.userId]);

  const act = async (what: string, f: () => Promise<Account | void>) => {
    setError("");
    setNote("");
    try {
      const a = await f();
      if (a) onChanged(a);
      setNote(what);
      await loadSessions();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const active = account.deactivatedAtMs === 0;
  const admin = account.role === "ACCOUNT_ROLE_ADMIN";

  return (
    <div class="account-detail" data-testid="account-detail">
      <div class="row">
        {!self && (
          <button onClick={() => void act(active ? "Deactivated: signed out everywhere." : "Reactivated.", () => client.account.setActive(account.userId, !active))} data-testid={active ? "deactivate" : "reactivate"}>
            {active ? "Deactivate" : "Reactivate"}
          </button>
        )}
        {!self && (
          <button onClick={() => void act(admin ? "No longer an admin." : "Now an admin.", () => client.account.setRole(account.userId, admin ? "ACCOUNT_ROLE_USER" : "ACCOUNT_ROLE_ADMIN"))} data-testid="toggle-admin">
            {admin ? "Remove admin" : "Make admin"}
          </button>
        )}
        <button onClick={() => void act("Signed out everywhere.", () => client.account.endUserSessions(account.userId))} data-testid="end-all-sessions">
          Sign out everywhere
        </button>
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void act("Password reset: signed out everywhere.", async () => {
            await client.account.resetPassword(account.userId, password);
            setPassword("");
          });
        }}
      >
        <input type="password" autocomplete="new-password" placeholder="New password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="reset-password-input" />
        <button type="submit" data-testid="reset-password">
          Reset password
        </button>
      </form>
      {note && (
        <p class="hint" data-testid="admin-note">
          {note}
        </p>
      )}
      {error && (
        <p class="error" role="alert" data-testid="admin-error">
          {error}
        </p>
      )}
      <h4>Sessions</h4>
      {sessions?.length === 0 && <p class="hint">Not signed in anywhere.</p>}
      <ul class="session-list">
        {(sessions ?? []).map((s) => (
          <li key={s.sessionId} data-testid="user-session">
            <div class="session-what">
              <strong>{s.deviceName || "Unnamed device"}</strong>
              <span class="hint">{[agentSummary(s.userAgent), s.clientAddress, `last active ${when(s.lastSeenMs)}`].filter(Boolean).join(" · ")}</span>
            </div>
            <button onClick={() => void act("Session ended.", () => client.account.endUserSessions(account.userId, [s.sessionId]))}>Sign out</button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function CreateAccount({ client, onCreated }: { client: ParleyClient; onCreated(): void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const { submit, error, busy } = useSubmit(async () => {
    await client.account.createAccount(username.trim().toLowerCase(), password, admin ? "ACCOUNT_ROLE_ADMIN" : "ACCOUNT_ROLE_USER");
    setUsername("");
    setPassword("");
    setAdmin(false);
    onCreated();
  });
  return (
    <form class="settings-form" onSubmit={submit} data-testid="create-account">
      <h3>Create an account</h3>
      <input placeholder="Username" autocapitalize="none" spellcheck={false} required minLength={3} maxLength={32} value={username} onInput={(e) => setUsername(e.currentTarget.value)} data-testid="create-username" />
      <input type="password" autocomplete="new-password" placeholder="Initial password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="create-password" />
      <label class="check">
        <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} /> Admin
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy} data-testid="create-submit">
        Create
      </button>
    </form>
  );
}

const MODES: [RegistrationMode, string][] = [
  ["REGISTRATION_MODE_OPEN", "Anyone can sign up"],
  ["REGISTRATION_MODE_INVITE_ONLY", "Only with an invite"],
  ["REGISTRATION_MODE_CLOSED", "Closed: admins create accounts"],
  ["REGISTRATION_MODE_SSO_ONLY", "Single sign-on only (admins keep their passwords)"],
];

function SignUp({ client }: { client: ParleyClient }) {
  const [mode, setMode] = useState<RegistrationMode | null>(null);
  const [invites, setInvites] = useState<Invite[]>([]);
  const [link, setLink] = useState("");
  const [uses, setUses] = useState(1);
  const [days, setDays] = useState(7);
  const [note, setNote] = useState("");
  const [error, setError] = useState("");

  const load = async () => {
    try {
      setMode(await client.account.registration());
      setInvites(await client.account.invites());
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);

  const run = async (f: () => Promise<void>) => {
    setError("");
    try {
      await f();
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <div>
      <h3>Who can sign up</h3>
      {mode && (
        <select value={mode} onChange={(e) => void run(async () => void (await client.account.setRegistration(e.currentTarget.value as RegistrationMode)))} data-testid="registration-mode">
          {MODES.map(([m, label]) => (
            <option key={m} value={m}>
              {label}
            </option>
          ))}
        </select>
      )}
      {error && (
        <p class="error" role="alert" data-testid="signup-error">
          {error}
        </p>
      )}
      <h3>Invites</h3>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            const created = await client.account.createInvite(uses, days, note);
            setLink(`${location.origin}/#invite=${created.code}`);
            setNote("");
          });
        }}
        data-testid="create-invite"
      >
        <label>
          Uses <input type="number" min={1} max={1000} value={uses} onInput={(e) => setUses(Number(e.currentTarget.value))} data-testid="invite-uses" />
        </label>
        <label>
          Days <input type="number" min={1} max={90} value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        </label>
        <input placeholder="Note (who is it for?)" maxLength={200} value={note} onInput={(e) => setNote(e.currentTarget.value)} data-testid="invite-note" />
        <button type="submit" class="primary" data-testid="create-invite-submit">
          Create invite
        </button>
      </form>
      {link && (
        <p class="invite-link">
          Send this link (shown only now): <input readOnly value={link} data-testid="invite-link" onFocus={(e) => e.currentTarget.select()} />
        </p>
      )}
      <ul class="session-list" data-testid="invite-list">
        {invites.map((i) => (
          <li key={i.id} data-testid="invite">
            <div class="session-what">
              <strong>{i.note || i.id}</strong>
              <span class="hint">
                {i.usesLeft} use{i.usesLeft === 1 ? "" : "s"} left · expires {when(i.expiresAtMs)}
              </span>
            </div>
            <button onClick={() => void run(() => client.account.revokeInvite(i.id))} data-testid="revoke-invite">
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Audit({ client }: { client: ParleyClient }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");

  const load = async (after = "") => {
    try {
      const page = await client.account.audit(after);
      setEntries((e) => (after ? [...e, ...page.entries] : page.entries));
      setNext(page.next);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);

  const exportAll = async () => {
    try {
      const text = await client.account.auditExport();
      const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "parley-audit.jsonl";
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <div>
      <div class="row">
        <button onClick={() => void exportAll()} data-testid="audit-export">
          Export (JSON lines)
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <table class="audit" data-testid="audit-log">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Whom</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-testid="audit-entry" data-action={e.action}>
              <td>{when(e.atMs)}</td>
              <td>
                {e.actorUsername}
                {e.actorAddress && <span class="hint"> {e.actorAddress}</span>}
              </td>
              <td>{e.action}</td>
              <td>{e.targetUsername}</td>
              <td>{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length === 0 && <p class="hint">Nothing yet.</p>}
      {next && <button onClick={() => void load(next)}>More</button>}
    </div>
  );
}
