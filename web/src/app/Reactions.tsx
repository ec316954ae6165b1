import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";

/** The picker's choices (any Unicode emoji works through the SDK). */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/** The reactions under a message: one chip per emoji, mine highlighted; a click toggles mine. */
export function ReactionChips({ client, conv, seq }: { client: ParleyClient; conv: string; seq: number }) {
  const list = client.conversation(conv)?.reactions.of(seq, client.me) ?? [];
  if (!list.length) return null;
  return (
    <div class="reactions" data-testid="reactions">
      {list.map((r) => {
        const names = r.userIds.map((u) => client.displayName(u));
        const others = r.count - names.length;
        const who = names.join(", ") + (others > 0 ? ` and ${others} more` : "");
        return (
          <button
            key={r.emoji}
            class={`reaction${r.mine ? " mine" : ""}`}
            title={who}
            aria-pressed={r.mine}
            aria-label={`${r.emoji} ${r.count}: ${who}`}
            onClick={() => client.toggleReaction(conv, seq, r.emoji)}
            data-testid="reaction"
            data-emoji={r.emoji}
          >
            {r.emoji} <span class="count">{r.count}</span>
          </button>
        );
      })}
    </div>
  );
}

/** "React" in a message's actions: opens the quick choices. */
export function ReactButton({ client, conv, seq }: { client: ParleyClient; conv: string; seq: number }) {
  const [open, setOpen] = useState(false);
  return (
    <span class="react">
      <button class="link" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="react">
        React
      </button>
      {open && (
        <span class="react-picker" role="menu" data-testid="react-picker">
          {QUICK_REACTIONS.map((e) => (
            <button
              key={e}
              role="menuitem"
              onClick={() => {
                client.toggleReaction(conv, seq, e);
                setOpen(false);
              }}
              data-testid="react-choice"
              data-emoji={e}
            >
              {e}
            </button>
          ))}
        </span>
      )}
    </span>
  );
}
