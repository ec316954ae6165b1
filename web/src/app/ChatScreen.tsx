import { useEffect, useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { AccountPanel } from "./AccountPanel";
import { AdminPanel } from "./AdminPanel";
import { ConversationPane } from "./ConversationPane";
import { Sidebar } from "./Sidebar";

/** The selected conversation lives in the URL hash, so a reload keeps it. */
function selectedFromHash(): string {
  const m = /^#c=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  return m ? m[1]! : "";
}

export function ChatScreen({ client }: { client: ParleyClient }) {
  const [selected, setSelected] = useState(selectedFromHash);
  // A message to show in the selected conversation (a search hit).
  const [focus, setFocus] = useState<{ id: string; seq: number } | null>(null);
  // The account or admin page, shown in place of a conversation.
  const [panel, setPanel] = useState<"" | "account" | "admin">("");
  const [admin, setAdmin] = useState(false);

  useEffect(() => {
    client.account
      .me()
      .then((a) => setAdmin(a.role === "ACCOUNT_ROLE_ADMIN"))
      .catch(() => setAdmin(false));
  }, [client.me]);

  useEffect(() => {
    const onHash = () => setSelected(selectedFromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  const select = (id: string) => {
    setPanel("");
    if (id) location.hash = `c=${id}`;
    else history.replaceState(null, "", location.pathname + location.search);
    setSelected(id);
  };

  const unread = client.totalUnread();
  useEffect(() => {
    document.title = unread ? `(${unread}) Parley` : "Parley";
  }, [unread]);

  const conv = selected ? client.conversation(selected) : undefined;
  const open = conv && !conv.left ? selected : "";

  return (
    <div class={open || panel ? "chat has-selection" : "chat"}>
      <Sidebar
        client={client}
        selected={open}
        admin={admin}
        onPanel={setPanel}
        onSelect={select}
        onOpenAt={(id, seq) => {
          setFocus({ id, seq });
          select(id);
        }}
      />
      {panel === "account" ? (
        <AccountPanel client={client} onClose={() => setPanel("")} />
      ) : panel === "admin" ? (
        <AdminPanel client={client} onClose={() => setPanel("")} />
      ) : open ? (
        <ConversationPane key={open} client={client} id={open} onBack={() => select("")} focusSeq={focus?.id === open ? focus.seq : 0} />
      ) : (
        <section class="pane empty-pane">
          <p>{client.ready ? "Pick a conversation, or start a new one." : "Loading your conversations…"}</p>
        </section>
      )}
    </div>
  );
}
