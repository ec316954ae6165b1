import { useEffect, useRef } from "preact/hooks";
import type { ParleyClient } from "../sdk";

export type Draft = { mode: "new" } | { mode: "reply"; seq: number } | { mode: "edit"; seq: number; text: string };

interface Props {
  client: ParleyClient;
  id: string;
  draft: Draft;
  setDraft(d: Draft): void;
}

/** Largest message the server takes (docs/protocol.md section 10), in UTF-8 bytes. */
const MAX_TEXT_BYTES = 16 * 1024;

export function Composer({ client, id, draft, setDraft }: Props) {
  const input = useRef<HTMLTextAreaElement>(null);
  const conv = client.conversation(id)!;

  useEffect(() => {
    const el = input.current;
    if (!el) return;
    if (draft.mode === "edit") el.value = draft.text;
    el.focus();
  }, [draft]);

  function submit() {
    const el = input.current;
    if (!el) return;
    const text = el.value.trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
      alert("That message is too long (16 KiB at most).");
      return;
    }
    if (draft.mode === "edit") client.editMessage(id, draft.seq, text);
    else client.sendMessage(id, text, draft.mode === "reply" ? draft.seq : 0);
    el.value = "";
    setDraft({ mode: "new" });
  }

  const target = draft.mode !== "new" ? conv.item(draft.seq) : undefined;
  return (
    <div class="composer">
      {draft.mode !== "new" && (
        <div class="draft-mode" data-testid="draft-mode">
          <span>
            {draft.mode === "reply" ? `Replying to ${target ? client.userName(target.senderId) : "a message"}` : "Editing your message"}
            {target && <em>: {target.text.slice(0, 80)}</em>}
          </span>
          <button
            class="link"
            onClick={() => {
              if (input.current) input.current.value = "";
              setDraft({ mode: "new" });
            }}
          >
            Cancel
          </button>
        </div>
      )}
      <form
        class="composer-row"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <textarea
          ref={input}
          rows={1}
          placeholder="Message"
          data-testid="composer-input"
          onInput={() => client.typing(id)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === "Escape" && draft.mode !== "new") {
              if (input.current) input.current.value = "";
              setDraft({ mode: "new" });
            }
          }}
        />
        <button type="submit" class="primary" data-testid="send">
          {draft.mode === "edit" ? "Save" : "Send"}
        </button>
      </form>
    </div>
  );
}
