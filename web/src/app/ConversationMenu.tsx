import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { errorText } from "./useSubmit";

const HOUR = 3_600_000;

/** "⋯" in a conversation's header: my own settings of it (only I see them). */
export function ConversationMenu({ client, id, onBack }: { client: ParleyClient; id: string; onBack(): void }) {
  const [open, setOpen] = useState(false);
  const conv = client.conversation(id)!;
  const s = conv.settings;
  const partner = client.dmPartner(conv);
  const block = (userId: string) => {
    setOpen(false);
    const name = client.userName(userId);
    if (!confirm(`Block ${name}? Neither of you can message the other here, they cannot invite you, and you stop seeing each other online. Shared groups stay.`)) return;
    client
      .block(userId)
      .then(onBack)
      .catch((e: unknown) => alert(errorText(e)));
  };
  const hide = () => {
    setOpen(false);
    if (!confirm("Delete this chat for you? Its messages so far disappear from your devices; it comes back when someone writes.")) return;
    client
      .hide(id)
      .then(onBack)
      .catch((e: unknown) => alert(errorText(e)));
  };
  const change = (c: Partial<typeof s>, thenLeave = false) => {
    setOpen(false);
    client.updateSettings(id, c).catch((e: unknown) => alert(errorText(e)));
    if (thenLeave) onBack();
  };
  return (
    <span class="conv-menu">
      <button onClick={() => setOpen(!open)} aria-expanded={open} aria-label="Conversation settings" data-testid="conv-menu">
        ⋯
      </button>
      {open && (
        <span class="conv-menu-items" role="menu" data-testid="conv-menu-items">
          {conv.muted() ? (
            <button role="menuitem" onClick={() => change({ mutedUntilMs: 0 })} data-testid="unmute">
              Unmute
            </button>
          ) : (
            <>
              <button role="menuitem" onClick={() => change({ mutedUntilMs: Date.now() + HOUR })} data-testid="mute-hour">
                Mute for 1 hour
              </button>
              <button role="menuitem" onClick={() => change({ mutedUntilMs: -1 })} data-testid="mute">
                Mute until I unmute
              </button>
            </>
          )}
          <button role="menuitem" onClick={() => change({ pinnedAtMs: s.pinnedAtMs ? 0 : Date.now() })} data-testid="pin-conv">
            {s.pinnedAtMs ? "Unpin from the top" : "Pin to the top"}
          </button>
          <button role="menuitem" onClick={() => change({ archived: !s.archived }, !s.archived)} data-testid="archive">
            {s.archived ? "Unarchive" : "Archive"}
          </button>
          <button role="menuitem" onClick={() => change({ markedUnread: true }, true)} data-testid="mark-unread">
            Mark unread
          </button>
          <button role="menuitem" onClick={hide} data-testid="hide-conv">
            Delete chat for me
          </button>
          {partner && partner !== client.me && (
            <button role="menuitem" onClick={() => block(partner)} data-testid="block">
              Block {client.userName(partner)}
            </button>
          )}
        </span>
      )}
    </span>
  );
}
