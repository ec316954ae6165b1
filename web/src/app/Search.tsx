import { useState } from "preact/hooks";
import { highlightPieces, int, type ParleyClient, type SearchHit } from "../sdk";
import { initials, time } from "./format";
import { errorText } from "./useSubmit";

/**
 * The search box above the conversation list; while a search is shown,
 * its hits replace the list. A hit opens its conversation at the message.
 */
export function SearchBox({ client, onOpen, children }: { client: ParleyClient; onOpen(conv: string, seq: number): void; children: preact.ComponentChildren }) {
  const [text, setText] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  // Searches answered so far (tests wait for the next one).
  const [runs, setRuns] = useState(0);
  const run = (e: Event) => {
    e.preventDefault();
    const q = text.trim();
    if (!q) return clear();
    setBusy(true);
    setError("");
    client
      .search({ query: q, limit: 30 })
      .then((h) => {
        setHits(h);
        setRuns((n) => n + 1);
      })
      .catch((err: unknown) => setError(errorText(err)))
      .finally(() => setBusy(false));
  };
  const clear = () => {
    setText("");
    setHits(null);
    setError("");
  };
  return (
    <>
      <form class="search" role="search" onSubmit={run}>
        <input
          type="search"
          placeholder="Search messages"
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (!e.currentTarget.value) clear();
          }}
          onKeyDown={(e) => e.key === "Escape" && clear()}
          aria-label="Search messages"
          data-testid="search-input"
        />
      </form>
      {error && (
        <p class="error search-error" role="alert">
          {error}
        </p>
      )}
      {hits === null ? (
        children
      ) : (
        <ul class="conv-list search-results" data-testid="search-results" data-runs={runs} aria-busy={busy}>
          {hits.length === 0 && <li class="conv-empty">No messages found.</li>}
          {hits.map((h) => {
            const conv = client.conversation(h.conversationId);
            const title = conv ? client.title(conv) : "A conversation";
            return (
              <li key={`${h.conversationId}/${h.seq}`}>
                <button class="conv" onClick={() => onOpen(h.conversationId, int(h.seq))} data-testid="search-hit" data-conversation={title} data-seq={int(h.seq)}>
                  <span class="avatar">{initials(title)}</span>
                  <span class="conv-main">
                    <span class="conv-title">
                      {title} <span class="hit-meta">· {client.displayName(h.senderId ?? "")} · {time(int(h.sentAtMs))}</span>
                    </span>
                    <span class="conv-last hit-fragment" data-testid="hit-fragment">
                      {highlightPieces(h.fragment ?? "", h.highlights ?? []).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : p.text))}
                    </span>
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
