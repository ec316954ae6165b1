import { useState } from "preact/hooks";
import type { ConversationUpdate, ParleyClient, Role } from "../sdk";
import { errorText } from "./useSubmit";

const ROLE_NAMES: Record<string, string> = { ROLE_OWNER: "Owner", ROLE_ADMIN: "Admin", ROLE_MEMBER: "Member" };

/**
 * A group's settings: its name and description (editable by admins and the
 * owner) and its members with their roles (the owner changes roles and may
 * hand ownership over).
 */
export function GroupSettings({ client, id, onClose }: { client: ParleyClient; id: string; onClose(): void }) {
  const conv = client.conversation(id)!;
  const myRole = conv.members.get(client.me)?.role;
  const canEdit = myRole === "ROLE_OWNER" || myRole === "ROLE_ADMIN";
  const isOwner = myRole === "ROLE_OWNER";
  const [title, setTitle] = useState(conv.title);
  const [description, setDescription] = useState(conv.description);
  const [sinceJoined, setSinceJoined] = useState(conv.historyVisibility === "HISTORY_VISIBILITY_SINCE_JOINED");

  const save = (e: Event) => {
    e.preventDefault();
    const update: ConversationUpdate = {};
    if (title.trim() && title.trim() !== conv.title) update.title = title.trim();
    if (description.trim() !== conv.description) update.description = description.trim();
    if (sinceJoined !== (conv.historyVisibility === "HISTORY_VISIBILITY_SINCE_JOINED")) {
      update.historyVisibility = sinceJoined ? "HISTORY_VISIBILITY_SINCE_JOINED" : "HISTORY_VISIBILITY_ALL";
    }
    if (Object.keys(update).length) client.updateGroup(id, update);
    onClose();
  };

  const members = [...conv.members.entries()].sort(([, a], [, b]) => rank(a.role) - rank(b.role));
  return (
    <div class="group-settings" data-testid="group-settings">
      <form onSubmit={save}>
        <label>
          Name
          <input value={title} maxLength={200} disabled={!canEdit} onInput={(e) => setTitle(e.currentTarget.value)} data-testid="group-name" />
        </label>
        <label>
          Description
          <textarea value={description} maxLength={1000} rows={2} disabled={!canEdit} onInput={(e) => setDescription(e.currentTarget.value)} data-testid="group-description" />
        </label>
        <label class="check">
          <input type="checkbox" checked={!sinceJoined} disabled={!canEdit} onChange={(e) => setSinceJoined(!e.currentTarget.checked)} data-testid="history-for-new-members" />
          New members see earlier messages
        </label>
        <div class="row">
          {canEdit && (
            <button type="submit" class="primary" data-testid="group-save">
              Save
            </button>
          )}
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      <ul class="member-roles" data-testid="member-roles">
        {members.map(([userId, m]) => (
          <li key={userId} data-testid="member-role" data-user={client.userName(userId)} data-role={m.role}>
            <span class="name">{client.displayName(userId)}</span>
            {isOwner && userId !== client.me ? (
              <span class="role-actions">
                <select value={m.role} onChange={(e) => client.setRole(id, userId, e.currentTarget.value as Role)} data-testid="role-select" aria-label={`Role of ${client.userName(userId)}`}>
                  <option value="ROLE_MEMBER">Member</option>
                  <option value="ROLE_ADMIN">Admin</option>
                </select>
                <button
                  class="link"
                  onClick={() => confirm(`Make ${client.userName(userId)} the owner? You will become an admin.`) && client.setRole(id, userId, "ROLE_OWNER")}
                  data-testid="make-owner"
                >
                  Make owner
                </button>
              </span>
            ) : (
              <span class="role">{ROLE_NAMES[m.role] ?? "Member"}</span>
            )}
          </li>
        ))}
        {[...conv.invitedIds].map((userId) => (
          <li key={userId} data-testid="member-invited" data-user={client.userName(userId)}>
            <span class="name">{client.displayName(userId)}</span>
            <span class="role-actions">
              <span class="role">Invited</span>
              {canEdit && (
                <button class="link" onClick={() => client.withdrawInvitation(id, userId).catch((e: unknown) => alert(errorText(e)))} data-testid="withdraw-invitation">
                  Withdraw
                </button>
              )}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function rank(role: Role): number {
  return role === "ROLE_OWNER" ? 0 : role === "ROLE_ADMIN" ? 1 : 2;
}
