import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { initials } from "./format";
import { BlockedList, Invitations } from "./Invitations";
import { SearchBox } from "./Search";
import { NewChat } from "./NewChat";
import { StatusLine } from "./StatusLine";

interface Props {
  client: ParleyClient;
  selected: string;
  /** Whether to offer the admin page. */
  admin: boolean;
  onPanel(panel: "account" | "admin"): void;
  onSelect(id: string): void;
  /** Opens a conversation at a message (a search hit). */
  onOpenAt(id: string, seq: number): void;
}

export function Sidebar({ client, selected, admin, onPanel, onSelect, onOpenAt }: Props) {
  const [dialog, setDialog] = useState<"" | "direct" | "group">("");
  const [showArchived, setShowArchived] = useState(false);
  const me = client.me;
  // Message requests wait in their own section until answered.
  // Chats I deleted for me stay out until someone writes again.
  const all = client.conversations().filter((c) => !(c.request && c.request.fromUserId !== me) && !c.hidden());
  const archived = all.filter((c) => c.settings.archived);
  const convs = showArchived ? archived : all.filter((c) => !c.settings.archived);

  return (
    <aside class="sidebar">
      <header class="sidebar-head">
        <div class="me">
          <span class="avatar">{initials(client.session?.username ?? "")}</span>
          <span class="me-name" data-testid="me">
            {client.session?.username}
          </span>
          <button class="link" onClick={() => onPanel("account")} data-testid="open-account">
            Account
          </button>
          {admin && (
            <button class="link" onClick={() => onPanel("admin")} data-testid="open-admin">
              Admin
            </button>
          )}
          <button class="link" onClick={() => void client.logout()} data-testid="logout">
            Log out
          </button>
        </div>
        <StatusLine status={client.status} />
        <div class="actions">
          <button onClick={() => setDialog("direct")} data-testid="new-direct">
            New message
          </button>
          <button onClick={() => setDialog("group")} data-testid="new-group">
            New group
          </button>
        </div>
      </header>
      {dialog && (
        <NewChat
          client={client}
          kind={dialog}
          onClose={() => setDialog("")}
          onCreated={(id) => {
            setDialog("");
            onSelect(id);
          }}
        />
      )}
      <SearchBox client={client} onOpen={onOpenAt}>
      <Invitations client={client} selected={selected} onSelect={onSelect} />
      <ul class="conv-list" data-testid="conv-list">
        {convs.length === 0 && client.ready && <li class="conv-empty">No conversations yet.</li>}
        {convs.map((c) => {
          const title = client.title(c);
          const unread = c.unread(me);
          const mentions = c.mentionsOfMe(me);
          const last = [...c.items].reverse().find((i) => i.kind === "message");
          const partner = client.dmPartner(c);
          const online = partner ? client.presence(partner)?.online : undefined;
          return (
            <li key={c.id}>
              <button
                class={c.id === selected ? "conv active" : "conv"}
                onClick={() => onSelect(c.id)}
                data-testid="conv-item"
                data-title={title}
              >
                <span class="avatar">
                  {initials(title)}
                  {partner && <span class={online ? "dot online" : "dot"} data-testid="presence-dot" data-online={online ? "true" : "false"} />}
                </span>
                <span class="conv-main">
                  <span class="conv-title">
                    {c.settings.pinnedAtMs > 0 && (
                      <span class="conv-flag" title="Pinned to the top" data-testid="conv-pinned">
                        📌{" "}
                      </span>
                    )}
                    {c.muted() && (
                      <span class="conv-flag" title="Muted" data-testid="conv-muted">
                        🔕{" "}
                      </span>
                    )}
                    {title}
                  </span>
                  <span class="conv-last">
                    {last ? (last.deleted ? "Message deleted" : `${last.threadRootSeq ? "↳ " : ""}${last.senderId === me ? "You: " : c.kind === "group" ? `${client.displayName(last.senderId)}: ` : ""}${last.text}`) : ""}
                  </span>
                </span>
                {mentions > 0 && (
                  <span class="badge mention-badge" title={`${mentions} mention${mentions > 1 ? "s" : ""} of you`} data-testid="mention-badge">
                    @
                  </span>
                )}
                {unread.count > 0 ? (
                  <span class={c.muted() ? "badge muted" : "badge"} data-testid="unread-badge">
                    {unread.count}
                    {unread.more ? "+" : ""}
                  </span>
                ) : (
                  c.settings.markedUnread && (
                    <span class="badge" title="Marked unread" data-testid="marked-unread">
                      •
                    </span>
                  )
                )}
              </button>
            </li>
          );
        })}
      </ul>
      {(archived.length > 0 || showArchived) && (
        <button class="link archived-toggle" onClick={() => setShowArchived(!showArchived)} data-testid="archived-toggle">
          {showArchived ? "‹ Back to conversations" : `Archived (${archived.length})`}
        </button>
      )}
      <BlockedList client={client} />
      </SearchBox>
    </aside>
  );
}
