import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";

/** The bar under a conversation's header: how many pins, and the list when opened. */
export function PinnedBar({ client, id }: { client: ParleyClient; id: string }) {
  const [open, setOpen] = useState(false);
  const pins = client.conversation(id)?.pins.list() ?? [];
  if (!pins.length) return null;
  return (
    <div class="pinned-bar" data-testid="pinned-bar">
      <button class="link" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="pinned-toggle">
        📌 {pins.length} pinned {open ? "▴" : "▾"}
      </button>
      {open && (
        <ul class="pinned-list" data-testid="pinned-list">
          {pins.map((p) => {
            const m = client.messageAt(id, p.targetSeq);
            const text = m ? (m.message?.text ? `${client.displayName(m.senderId ?? "")}: ${m.message.text}` : "Message deleted") : "Loading…";
            return (
              <li key={p.targetSeq}>
                <button class="link pinned-item" onClick={() => jumpTo(p.targetSeq)} title={`Pinned by ${client.userName(p.pinnedBy)}`} data-testid="pinned-item" data-seq={p.targetSeq}>
                  {text}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** Scrolls to a message if it is loaded, and flashes it. */
function jumpTo(seq: number): void {
  const el = document.querySelector<HTMLElement>(`[data-testid=message][data-seq="${seq}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1200);
}

/** "Pin" / "Unpin" in a message's actions. */
export function PinButton({ client, conv, seq }: { client: ParleyClient; conv: string; seq: number }) {
  const pinned = client.conversation(conv)?.pins.isPinned(seq) ?? false;
  return (
    <button class="link" onClick={() => client.togglePin(conv, seq)} data-testid={pinned ? "unpin" : "pin"}>
      {pinned ? "Unpin" : "Pin"}
    </button>
  );
}
