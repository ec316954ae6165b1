import { useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";
import { initials } from "./format";
import { errorText } from "./useSubmit";

/** Picks the conversation a message is forwarded to (any of mine but its own). */
export function ForwardDialog({ client, from, seq, onClose }: { client: ParleyClient; from: string; seq: number; onClose(): void }) {
  const [filter, setFilter] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const targets = client
    .conversations()
    .filter((c) => c.id !== from && !c.settings.archived)
    .filter((c) => client.title(c).toLowerCase().includes(filter.trim().toLowerCase()))
    .slice(0, 50);
  const forward = (to: string) => {
    setBusy(true);
    client
      .forward(from, seq, to)
      .then(onClose)
      .catch((e: unknown) => {
        setError(errorText(e));
        setBusy(false);
      });
  };
  return (
    <div class="forward" role="dialog" aria-label="Forward a message" data-testid="forward-dialog">
      <div class="forward-head">
        <input placeholder="Forward to…" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="forward-filter" autoFocus />
        <button class="link" onClick={onClose}>
          Cancel
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <ul>
        {targets.map((c) => {
          const title = client.title(c);
          return (
            <li key={c.id}>
              <button class="conv" disabled={busy} onClick={() => forward(c.id)} data-testid="forward-target" data-title={title}>
                <span class="avatar">{initials(title)}</span>
                <span class="conv-main">
                  <span class="conv-title">{title}</span>
                </span>
              </button>
            </li>
          );
        })}
        {targets.length === 0 && <li class="conv-empty">No other conversation.</li>}
      </ul>
    </div>
  );
}
