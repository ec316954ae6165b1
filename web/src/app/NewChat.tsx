import { useEffect, useState } from "preact/hooks";
import type { ParleyClient, User } from "../sdk";
import { useSubmit } from "./useSubmit";

interface Props {
  client: ParleyClient;
  kind: "direct" | "group";
  onClose(): void;
  onCreated(id: string): void;
}

/** Start a DM by username, or create a group with a title and usernames. */
export function NewChat({ client, kind, onClose, onCreated }: Props) {
  const [title, setTitle] = useState("");
  const [names, setNames] = useState("");
  // People I share a conversation with, offered as I type a username.
  const [people, setPeople] = useState<User[]>([]);
  useEffect(() => {
    client.account
      .people()
      .then(setPeople)
      .catch(() => undefined);
  }, []);
  const { submit, error, busy } = useSubmit(async () => {
    const id = kind === "direct" ? await client.startDirect(names) : await client.createGroup(title.trim(), splitNames(names));
    onCreated(id);
  });

  return (
    <form class="new-chat" onSubmit={submit} data-testid="new-chat">
      {kind === "group" && (
        <input placeholder="Group name" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} data-testid="group-title" />
      )}
      <input
        placeholder={kind === "direct" ? "Username" : "Usernames, separated by commas"}
        required={kind === "direct"}
        autocapitalize="none"
        spellcheck={false}
        value={names}
        onInput={(e) => setNames(e.currentTarget.value)}
        data-testid="usernames"
        list={kind === "direct" ? "people" : undefined}
        autoFocus
      />
      <datalist id="people" data-testid="people">
        {people.map((u) => (
          <option key={u.id} value={u.username}>
            {u.displayName || u.username}
          </option>
        ))}
      </datalist>
      {error && (
        <p class="error" role="alert" data-testid="new-chat-error">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy || !client.status || client.status.state !== "online"} data-testid="new-chat-submit">
          {kind === "direct" ? "Start" : "Create group"}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function splitNames(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean);
}
