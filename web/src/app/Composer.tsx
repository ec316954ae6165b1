import { useEffect, useRef, useState } from "preact/hooks";
import { mentionBeingTyped, type ParleyClient } from "../sdk";

export type Draft = { mode: "new" } | { mode: "reply"; seq: number } | { mode: "edit"; seq: number; text: string };

interface Props {
  client: ParleyClient;
  id: string;
  draft: Draft;
  setDraft(d: Draft): void;
  /** Sends into the thread under this message (the thread panel's composer). */
  threadRoot?: number;
}

/** Largest message the server takes (docs/protocol.md section 10), in UTF-8 bytes. */
const MAX_TEXT_BYTES = 16 * 1024;

export function Composer({ client, id, draft, setDraft, threadRoot = 0 }: Props) {
  const input = useRef<HTMLTextAreaElement>(null);
  const conv = client.conversation(id)!;
  const [suggest, setSuggest] = useState<{ start: number; names: string[] } | null>(null);

  /** Members whose name starts with what follows the `@` (and "all" in a group). */
  function updateSuggestions() {
    const el = input.current;
    const at = el && mentionBeingTyped(el.value.slice(0, el.selectionStart ?? el.value.length));
    if (!at) return setSuggest(null);
    const names = [...conv.members.keys()]
      .filter((m) => m !== client.me)
      .map((m) => client.userName(m))
      .concat(conv.kind === "group" ? ["all"] : [])
      .filter((n) => n.toLowerCase().startsWith(at.prefix))
      .sort()
      .slice(0, 6);
    setSuggest(names.length ? { start: at.start, names } : null);
  }

  function complete(name: string) {
    const el = input.current;
    if (!el || !suggest) return;
    const end = el.selectionStart ?? el.value.length;
    el.value = `${el.value.slice(0, suggest.start)}@${name} ${el.value.slice(end)}`;
    const caret = suggest.start + name.length + 2;
    el.setSelectionRange(caret, caret);
    el.focus();
    setSuggest(null);
  }

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
    else client.sendMessage(id, text, draft.mode === "reply" ? draft.seq : 0, threadRoot);
    el.value = "";
    setSuggest(null);
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
      {suggest && (
        <ul class="mention-suggest" role="listbox" data-testid="mention-suggest">
          {suggest.names.map((n, i) => (
            <li key={n} role="option" aria-selected={i === 0}>
              <button type="button" class="link" onMouseDown={(e) => e.preventDefault()} onClick={() => complete(n)} data-testid="mention-option">
                @{n}
              </button>
            </li>
          ))}
        </ul>
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
          placeholder={threadRoot ? "Reply in thread" : "Message"}
          data-testid={threadRoot ? "thread-input" : "composer-input"}
          onInput={() => {
            client.typing(id);
            updateSuggestions();
          }}
          onBlur={() => setSuggest(null)}
          onKeyDown={(e) => {
            if (suggest && (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey && !e.isComposing))) {
              // The first suggestion completes the name being typed.
              e.preventDefault();
              complete(suggest.names[0] ?? "");
            } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === "Escape" && draft.mode !== "new") {
              if (input.current) input.current.value = "";
              setDraft({ mode: "new" });
            }
          }}
        />
        <button type="submit" class="primary" data-testid={threadRoot ? "thread-send" : "send"}>
          {draft.mode === "edit" ? "Save" : "Send"}
        </button>
      </form>
    </div>
  );
}
