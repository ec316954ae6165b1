import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { Composer, type Draft } from "./Composer";
import { dayKey, dayLabel, lastSeen, notice } from "./format";
import { ConversationMenu } from "./ConversationMenu";
import { GroupSettings } from "./GroupSettings";
import { RequestBanner } from "./Invitations";
import { ForwardDialog } from "./Forward";
import { Message } from "./Message";
import { PinnedBar } from "./Pins";
import { ThreadPanel } from "./Thread";
import { splitNames } from "./NewChat";
import { errorText, useSubmit } from "./useSubmit";

/** Consecutive messages of one sender this close together form a group. */
const GROUP_WITHIN_MS = 5 * 60_000;

interface Props {
  client: ParleyClient;
  id: string;
  onBack(): void;
  /** A message to bring into view (a search hit); 0 for none. */
  focusSeq?: number;
}

export function ConversationPane({ client, id, onBack, focusSeq = 0 }: Props) {
  const conv = client.conversation(id)!;
  const me = client.me;
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prepend = useRef<{ height: number; top: number } | null>(null);
  const [draft, setDraft] = useState<Draft>({ mode: "new" });
  const [adding, setAdding] = useState(false);
  const [settings, setSettings] = useState(false);
  // The root of the thread open beside the conversation (0: none).
  const [thread, setThread] = useState(0);
  // The message being forwarded (0: none).
  const [forwarding, setForwarding] = useState(0);
  useEffect(() => {
    setThread(0);
    setForwarding(0);
  }, [id]);

  // A search hit: load back to it, then show it (in its thread if it is a reply).
  useEffect(() => {
    if (!focusSeq) return;
    let live = true;
    void client.loadUntil(id, focusSeq).then(() => {
      if (!live) return;
      const item = client.conversation(id)?.item(focusSeq);
      if (item?.threadRootSeq) return setThread(item.threadRootSeq);
      const el = listRef.current?.querySelector(`[data-testid=message][data-seq="${focusSeq}"]`);
      if (!el) return;
      atBottom.current = false;
      el.scrollIntoView({ block: "center" });
      el.classList.add("flash");
      setTimeout(() => el.classList.remove("flash"), 2500);
    });
    return () => {
      live = false;
    };
  }, [client, id, focusSeq]);

  useEffect(() => client.ensureMembers(id), [client, id, conv.membersLoaded]);

  // Read receipts: whatever is on screen while the page is visible is read.
  useEffect(() => {
    if (document.visibilityState === "visible") client.markRead(id);
  });
  useEffect(() => {
    const onVisible = () => document.visibilityState === "visible" && client.markRead(id);
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [client, id]);

  // Replies in threads are shown in their thread, not here.
  const items = conv.mainItems;
  const pending = client.pending(id).filter((p) => "message" in p.body);
  const lastKey = `${items.length}:${items[items.length - 1]?.seq ?? 0}:${pending.length}`;

  // Keep the view pinned to the bottom when new messages arrive, and keep
  // the reading position when older ones are added above.
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (prepend.current) {
      el.scrollTop = prepend.current.top + (el.scrollHeight - prepend.current.height);
      prepend.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [lastKey, items[0]?.seq]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80 && conv.hasOlder && !conv.loadingOlder) loadOlder();
  };

  const loadOlder = () => {
    const el = listRef.current;
    if (el) prepend.current = { height: el.scrollHeight, top: el.scrollTop };
    void client.loadOlder(id);
  };

  // A short first page that does not fill the screen: load more right away.
  useEffect(() => {
    const el = listRef.current;
    if (el && conv.hasOlder && !conv.loadingOlder && el.scrollHeight <= el.clientHeight) loadOlder();
  });

  const partner = client.dmPartner(conv);
  const subtitle =
    conv.kind === "direct"
      ? partner && partner !== me
        ? lastSeen(client.presence(partner))
        : ""
      : groupSubtitle(client, id);
  const typing = client.typingIn(id);
  const partnerStatus = partner && partner !== me ? client.statusText(partner) : "";
  const myRole = conv.members.get(me)?.role;
  const canManage = myRole === "ROLE_OWNER" || myRole === "ROLE_ADMIN";
  const lastMine = [...items].reverse().find((i) => i.kind === "message" && i.senderId === me && !i.deleted);

  return (
    <section class="pane" data-testid="conversation" data-id={id}>
      <header class="pane-head">
        <button class="back" onClick={onBack} aria-label="Back to conversations" data-testid="back">
          ‹
        </button>
        <div class="pane-title">
          <h2 data-testid="conv-title">{client.title(conv)}</h2>
          <span class="subtitle" data-testid="conv-subtitle">
            {subtitle}
          </span>
          {partnerStatus && (
            <span class="subtitle status-line" data-testid="partner-status">
              {partnerStatus}
            </span>
          )}
        </div>
        <ConversationMenu client={client} id={id} onBack={onBack} />
        {conv.kind === "group" && (
          <div class="pane-actions">
            <button onClick={() => setSettings(!settings)} data-testid="group-settings-toggle">
              Settings
            </button>
            {canManage && (
              <button onClick={() => setAdding(!adding)} data-testid="add-people">
                Add people
              </button>
            )}
            <button onClick={() => leave(client, id)} data-testid="leave">
              Leave
            </button>
          </div>
        )}
      </header>
      {adding && <AddPeople client={client} id={id} onDone={() => setAdding(false)} />}
      {settings && conv.kind === "group" && <GroupSettings client={client} id={id} onClose={() => setSettings(false)} />}
      <RequestBanner client={client} id={id} onBack={onBack} />
      <PinnedBar client={client} id={id} />
      <div class="messages" ref={listRef} onScroll={onScroll} data-testid="messages">
        {conv.hasOlder ? (
          <button class="older" onClick={loadOlder} disabled={conv.loadingOlder} data-testid="load-older">
            {conv.loadingOlder ? "Loading…" : "Load older messages"}
          </button>
        ) : (
          conv.timeline && (
            <div class="start" data-testid="history-start">
              {conv.visibleFrom > 1 ? "Messages from before you joined are not shown in this group." : "This is the beginning of the conversation."}
            </div>
          )
        )}
        {!conv.timeline && <div class="start">Loading…</div>}
        {items.map((it, i) => {
          const prev = items[i - 1];
          // A day's first item gets a separator; a message right after one
          // of the same sender (within minutes, same day) joins its group.
          const newDay = !prev || dayKey(prev.sentAtMs) !== dayKey(it.sentAtMs);
          const grouped = !newDay && prev?.kind === "message" && it.kind === "message" && prev.senderId === it.senderId && it.sentAtMs - prev.sentAtMs < GROUP_WITHIN_MS;
          return (
            <Fragment key={it.seq}>
              {newDay && it.sentAtMs > 0 && (
                <div class="day-separator" data-testid="day-separator" role="separator">
                  <span>{dayLabel(it.sentAtMs)}</span>
                </div>
              )}
              {it.kind === "message" ? (
                <Message
                  client={client}
                  conv={id}
                  item={it}
                  mine={it.senderId === me}
                  showSender={conv.kind === "group" && !grouped}
                  grouped={grouped}
                  canDelete={it.senderId === me || canManage}
                  receipt={it === lastMine ? receipt(client, id, it.seq) : ""}
                  onReply={() => setDraft({ mode: "reply", seq: it.seq })}
                  onEdit={() => setDraft({ mode: "edit", seq: it.seq, text: it.text })}
                  onThread={() => setThread(it.seq)}
                  onForward={() => setForwarding(it.seq)}
                />
              ) : (
                <div class="notice" data-testid="notice" data-seq={it.seq}>
                  {notice(client, it)}
                </div>
              )}
            </Fragment>
          );
        })}
        {pending.map((p) => (
          <div key={p.clientMsgId} class="msg mine pending" data-testid="message" data-state={p.state}>
            <div class="bubble">
              <div class="text">{"message" in p.body ? p.body.message.text : ""}</div>
              <div class="meta">
                {p.state === "sending" && "Sending…"}
                {p.state === "acked" && "Sent"}
                {p.state === "failed" && (
                  <span class="failed">
                    Not sent: {p.error}{" "}
                    <button class="link" onClick={() => client.retry(p.clientMsgId)} data-testid="retry">
                      Retry
                    </button>{" "}
                    <button class="link" onClick={() => client.discard(p.clientMsgId)}>
                      Discard
                    </button>
                  </span>
                )}
              </div>
            </div>
          </div>
        ))}
      </div>
      <div class="typing" data-testid="typing" aria-live="polite">
        {typing.length > 0 && `${typing.map((u) => client.displayName(u)).join(", ")} ${typing.length > 1 ? "are" : "is"} typing…`}
      </div>
      <Composer client={client} id={id} draft={draft} setDraft={setDraft} />
      {forwarding > 0 && <ForwardDialog client={client} from={id} seq={forwarding} onClose={() => setForwarding(0)} />}
      {thread > 0 && <ThreadPanel client={client} id={id} root={thread} onClose={() => setThread(0)} />}
    </section>
  );
}

function groupSubtitle(client: ParleyClient, id: string): string {
  const conv = client.conversation(id)!;
  if (!conv.members.size) return "…";
  const online = [...conv.members.keys()].filter((m) => m !== client.me && client.presence(m)?.online).length;
  return `${conv.members.size} members${online ? `, ${online} online` : ""}`;
}

function leave(client: ParleyClient, id: string): void {
  if (!confirm("Leave this group? You will stop receiving its messages.")) return;
  client.leave(id).catch((e: unknown) => alert(errorText(e)));
}

function receipt(client: ParleyClient, id: string, seq: number): string {
  const conv = client.conversation(id)!;
  const readers = conv.readBy(seq, client.me);
  if (conv.kind === "direct") return readers.length ? "Seen" : "Sent";
  if (!readers.length) return "Sent";
  const others = conv.members.size - 1;
  return readers.length >= others ? "Seen by everyone" : `Seen by ${readers.length}`;
}

function AddPeople({ client, id, onDone }: { client: ParleyClient; id: string; onDone(): void }) {
  const [names, setNames] = useState("");
  const { submit, error, busy } = useSubmit(async () => {
    await client.addMembers(id, splitNames(names));
    onDone();
  });
  return (
    <form class="add-people" onSubmit={submit}>
      <input placeholder="Usernames, separated by commas" value={names} onInput={(e) => setNames(e.currentTarget.value)} data-testid="add-usernames" autoFocus />
      <button type="submit" class="primary" disabled={busy} data-testid="add-submit">
        Add
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
