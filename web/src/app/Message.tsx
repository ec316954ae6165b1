import { useState } from "preact/hooks";
import { mentionName, splitMentions, type Item, type ParleyClient } from "../sdk";
import { time } from "./format";
import { PinButton } from "./Pins";
import { ReactButton, ReactionChips } from "./Reactions";

interface MessageProps {
  client: ParleyClient;
  conv: string;
  item: Item;
  mine: boolean;
  showSender: boolean;
  canDelete: boolean;
  receipt: string;
  onReply(): void;
  onEdit(): void;
  /** Opens the thread under this message (absent inside a thread). */
  onThread?(): void;
  /** Forwards this message to another conversation. */
  onForward?(): void;
  /** Follows a message of the same sender closely (drawn tighter, no name). */
  grouped?: boolean;
}

export function Message({ client, conv, item, mine, showSender, canDelete, receipt, onReply, onEdit, onThread, onForward, grouped = false }: MessageProps) {
  const target = item.replyToSeq ? client.conversation(conv)?.item(item.replyToSeq) : undefined;
  // On touch screens there is no hover: a tap on the bubble shows the actions.
  const [selected, setSelected] = useState(false);
  return (
    <div class={`msg${mine ? " mine" : ""}${selected ? " selected" : ""}${grouped ? " grouped" : ""}`} data-testid="message" data-seq={item.seq} data-state="delivered" data-grouped={grouped ? "true" : undefined}>
      <div class="bubble" onClick={() => setSelected(!selected)}>
        {showSender && !mine && <div class="sender">{client.displayName(item.senderId)}</div>}
        {item.replyToSeq > 0 && (
          <div class="quote" data-testid="quote">
            {target ? `${client.displayName(target.senderId)}: ${target.deleted ? "message deleted" : target.text}` : "an earlier message"}
          </div>
        )}
        {item.forwarded && !item.deleted && (
          <div class="forwarded" data-testid="forwarded">
            Forwarded from {client.displayName(item.forwarded.senderId)}
          </div>
        )}
        {item.deleted ? (
          <div class="text deleted" data-testid="text">
            Message deleted
          </div>
        ) : (
          <div class="text" data-testid="text">
            <TextWithMentions client={client} item={item} />
          </div>
        )}
        <div class="meta">
          {client.conversation(conv)?.pins.isPinned(item.seq) && <span data-testid="pinned-mark">📌 </span>}
          {item.edited && !item.deleted && <span data-testid="edited">edited · </span>}
          {time(item.sentAtMs)}
          {receipt && (
            <span class="receipt" data-testid="receipt">
              {" "}
              · {receipt}
            </span>
          )}
        </div>
        {!item.deleted && <ReactionChips client={client} conv={conv} seq={item.seq} />}
        {onThread && <ThreadLink client={client} conv={conv} root={item.seq} onOpen={onThread} />}
      </div>
      {!item.deleted && (
        <div class="msg-actions">
          <ReactButton client={client} conv={conv} seq={item.seq} />
          <button class="link" onClick={onReply} data-testid="reply">
            Reply
          </button>
          {onThread && (
            <button class="link" onClick={onThread} data-testid="reply-in-thread">
              Thread
            </button>
          )}
          {onForward && (
            <button class="link" onClick={onForward} data-testid="forward">
              Forward
            </button>
          )}
          <PinButton client={client} conv={conv} seq={item.seq} />
          {mine && (
            <button class="link" onClick={onEdit} data-testid="edit">
              Edit
            </button>
          )}
          {canDelete && (
            <button
              class="link"
              onClick={() => confirm("Delete this message for everyone?") && client.deleteMessage(conv, item.seq)}
              data-testid="delete"
            >
              Delete
            </button>
          )}
        </div>
      )}
    </div>
  );
}

/** A message's text with the @-names it mentions highlighted (mine stronger). */
function TextWithMentions({ client, item }: { client: ParleyClient; item: Item }) {
  if (!item.mentionAll && !item.mentionIds.length) return <>{item.text}</>;
  const names = new Map(item.mentionIds.map((id) => [client.userName(id).toLowerCase(), id]));
  const parts = splitMentions(item.text);
  return (
    <>
      {parts.map((p, i) => {
        if (!p.startsWith("@")) return p;
        const name = mentionName(p.slice(1));
        const id = names.get(name);
        const all = name === "all" && item.mentionAll;
        if (!id && !all) return p;
        const me = all || id === client.me;
        return (
          <span key={i} class={`mention${me ? " me" : ""}`} data-testid="mention">
            {p}
          </span>
        );
      })}
    </>
  );
}

/** Under a message with replies: how many, when the last came, and whether some are unread. */
function ThreadLink({ client, conv, root, onOpen }: { client: ParleyClient; conv: string; root: number; onOpen(): void }) {
  const view = client.conversation(conv)?.threads.of(root, client.me);
  if (!view) return null;
  return (
    <button
      class="link thread-link"
      onClick={(e) => {
        e.stopPropagation();
        onOpen();
      }}
      data-testid="thread-link"
      data-replies={view.replyCount}
      data-unread={view.unread}
    >
      {view.replyCount} {view.replyCount === 1 ? "reply" : "replies"}
      {view.lastReplyAtMs > 0 && <span class="thread-last"> · last {time(view.lastReplyAtMs)}</span>}
      {view.unread > 0 && (
        <span class="badge" data-testid="thread-unread">
          {view.unread}
        </span>
      )}
    </button>
  );
}
