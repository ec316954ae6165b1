import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { initials } from "./format";
import { errorText } from "./useSubmit";

/**
 * What waits for my answer, above the conversation list: invitations to
 * groups (accept or decline here) and message requests from people I share
 * no conversation with (opened to read, answered in the conversation).
 */
export function Invitations({ client, selected, onSelect }: { client: ParleyClient; selected: string; onSelect(id: string): void }) {
  const invitations = client.invitations();
  const requests = client.requests();
  if (!invitations.length && !requests.length) return null;
  const answer = (id: string, accept: boolean) =>
    client
      .respond(id, accept)
      .then(() => accept && onSelect(id))
      .catch((e: unknown) => alert(errorText(e)));
  return (
    <section class="waiting" data-testid="waiting">
      {invitations.length > 0 && <h3>Invitations</h3>}
      <ul>
        {invitations.map((i) => {
          const group = i.conversation;
          const title = group.title || "Untitled group";
          return (
            <li key={group.id} class="invitation" data-testid="invitation" data-title={title}>
              <span class="avatar">{initials(title)}</span>
              <span class="conv-main">
                <span class="conv-title">{title}</span>
                <span class="conv-last">
                  {client.displayName(i.invitedBy)} invited you · {group.memberCount ?? 0} member{group.memberCount === 1 ? "" : "s"}
                </span>
              </span>
              <span class="answer">
                <button class="primary" onClick={() => void answer(group.id, true)} data-testid="accept-invitation">
                  Join
                </button>
                <button onClick={() => void answer(group.id, false)} data-testid="decline-invitation">
                  Decline
                </button>
              </span>
            </li>
          );
        })}
      </ul>
      {requests.length > 0 && <h3>Message requests</h3>}
      <ul>
        {requests.map((c) => {
          const title = client.title(c);
          const last = [...c.items].reverse().find((i) => i.kind === "message");
          return (
            <li key={c.id}>
              <button class={c.id === selected ? "conv active" : "conv"} onClick={() => onSelect(c.id)} data-testid="request" data-title={title}>
                <span class="avatar">{initials(title)}</span>
                <span class="conv-main">
                  <span class="conv-title">{title}</span>
                  <span class="conv-last">{last && !last.deleted ? last.text : "wants to send you messages"}</span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** In a message request's conversation: who asked, and the answer (or, for its sender, that it waits). */
export function RequestBanner({ client, id, onBack }: { client: ParleyClient; id: string; onBack(): void }) {
  const conv = client.conversation(id)!;
  if (!conv.request) return null;
  const name = client.title(conv);
  if (conv.request.fromUserId === client.me) {
    return (
      <div class="request-banner" data-testid="request-sent">
        {name} has not accepted your message request yet: you appear offline to each other until then.
      </div>
    );
  }
  const answer = (accept: boolean) => {
    if (!accept && !confirm(`Decline and block ${name}? They will not be able to message or invite you.`)) return;
    client
      .respond(id, accept)
      .then(() => !accept && onBack())
      .catch((e: unknown) => alert(errorText(e)));
  };
  return (
    <div class="request-banner" data-testid="request-banner">
      <span>
        <b>{name}</b> wants to send you messages. You share no conversation yet; they will not see your presence until you accept.
      </span>
      <span class="answer">
        <button class="primary" onClick={() => answer(true)} data-testid="accept-request">
          Accept
        </button>
        <button onClick={() => answer(false)} data-testid="decline-request">
          Decline and block
        </button>
      </span>
    </div>
  );
}

/** The people I blocked, each with a way back. */
export function BlockedList({ client }: { client: ParleyClient }) {
  const [open, setOpen] = useState(false);
  const blocked = client.blocked();
  if (!blocked.length) return null;
  return (
    <div class="blocked" data-testid="blocked">
      <button class="link" onClick={() => setOpen(!open)} data-testid="blocked-toggle">
        {open ? "Hide blocked people" : `Blocked (${blocked.length})`}
      </button>
      {open && (
        <ul>
          {blocked.map((u) => (
            <li key={u} data-testid="blocked-user" data-user={client.userName(u)}>
              <span class="name">{client.userName(u)}</span>
              <button class="link" onClick={() => client.unblock(u).catch((e: unknown) => alert(errorText(e)))} data-testid="unblock">
                Unblock
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
