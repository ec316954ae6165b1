import { useEffect, useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { Composer, type Draft } from "./Composer";
import { ForwardDialog } from "./Forward";
import { Message } from "./Message";
import { errorText } from "./useSubmit";

/**
 * The thread under one message, beside the conversation: the root, its
 * replies (loaded when it opens, then live), and a composer that replies in
 * it. While open, the thread is marked read as replies arrive.
 */
export function ThreadPanel({ client, id, root, onClose }: { client: ParleyClient; id: string; root: number; onClose(): void }) {
  const conv = client.conversation(id)!;
  const me = client.me;
  const [draft, setDraft] = useState<Draft>({ mode: "new" });
  const [error, setError] = useState("");
  const [forwarding, setForwarding] = useState(0);
  const rootItem = conv.item(root);
  const replies = conv.threadItems(root);
  const myRole = conv.members.get(me)?.role;
  const canManage = myRole === "ROLE_OWNER" || myRole === "ROLE_ADMIN";

  useEffect(() => {
    setError("");
    client.loadThread(id, root).catch((e: unknown) => setError(errorText(e)));
  }, [client, id, root]);
  useEffect(() => {
    if (document.visibilityState === "visible") client.markThreadRead(id, root);
  });

  return (
    <aside class="thread-panel" data-testid="thread" data-root={root}>
      <header class="thread-head">
        <h3>Thread</h3>
        <button class="link" onClick={onClose} aria-label="Close the thread" data-testid="thread-close">
          Close
        </button>
      </header>
      <div class="thread-messages" data-testid="thread-messages">
        {rootItem && (
          <div class="thread-root" data-testid="thread-root">
            <Message client={client} conv={id} item={rootItem} mine={rootItem.senderId === me} showSender={true} canDelete={rootItem.senderId === me || canManage} receipt="" onReply={() => undefined} onEdit={() => undefined} />
          </div>
        )}
        <div class="thread-count">
          {replies.length} {replies.length === 1 ? "reply" : "replies"}
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {replies.map((it) => (
          <Message
            key={it.seq}
            client={client}
            conv={id}
            item={it}
            mine={it.senderId === me}
            showSender={true}
            canDelete={it.senderId === me || canManage}
            receipt=""
            onReply={() => setDraft({ mode: "reply", seq: it.seq })}
            onEdit={() => setDraft({ mode: "edit", seq: it.seq, text: it.text })}
            onForward={() => setForwarding(it.seq)}
          />
        ))}
      </div>
      {forwarding > 0 && <ForwardDialog client={client} from={id} seq={forwarding} onClose={() => setForwarding(0)} />}
      <Composer client={client} id={id} draft={draft} setDraft={setDraft} threadRoot={root} />
    </aside>
  );
}
