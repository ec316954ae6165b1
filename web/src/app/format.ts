import type { Item, ParleyClient, Presence } from "../sdk";

export function time(ms: number): string {
  if (!ms) return "";
  const d = new Date(ms);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function lastSeen(p: Presence | undefined): string {
  if (!p) return "";
  if (p.online) return "online";
  if (!p.lastSeenMs) return "offline";
  return `last seen ${time(p.lastSeenMs)}`;
}

/** The local calendar day of a time, as a key to compare. */
export function dayKey(ms: number): string {
  return new Date(ms).toDateString();
}

/** A day separator's label: "Today", "Yesterday", or the weekday and date. */
export function dayLabel(ms: number, now = Date.now()): string {
  const key = dayKey(ms);
  if (key === dayKey(now)) return "Today";
  if (key === dayKey(now - 86_400_000)) return "Yesterday";
  const d = new Date(ms);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", ...(sameYear ? {} : { year: "numeric" }) });
}

/** The text of a membership notice. */
export function notice(client: ParleyClient, it: Item): string {
  const who = client.userName(it.senderId);
  const names = it.userIds.map((id) => client.userName(id)).join(", ");
  switch (it.kind) {
    case "created":
      return it.text ? `${who} created the group “${it.text}”` : `${who} started the conversation`;
    case "members_added":
      return it.userIds.length === 1 && it.userIds[0] === it.senderId ? `${who} joined` : `${who} added ${names}`;
    case "members_invited":
      return `${who} invited ${names}`;
    case "invitation_closed":
      return it.declined ? `${names} declined the invitation` : `${who} withdrew the invitation of ${names}`;
    case "request_accepted":
      return `${who} accepted the message request`;
    case "member_removed":
      return it.userIds[0] === it.senderId ? `${names} left` : `${who} removed ${names}`;
    case "updated": {
      const parts: string[] = [];
      if (it.text) parts.push(`renamed the group to “${it.text}”`);
      if (it.description !== undefined) parts.push("changed the description");
      if (it.historyVisibility === "HISTORY_VISIBILITY_SINCE_JOINED") parts.push("hid earlier messages from new members");
      if (it.historyVisibility === "HISTORY_VISIBILITY_ALL") parts.push("showed earlier messages to new members");
      return `${who} ${parts.join(" and ") || "updated the group"}`;
    }
    case "roles_changed":
      return it.userIds
        .map((id, i) => [id, i] as const)
        // A handover also makes the old owner (the sender) an admin: implied.
        .filter(([id, i]) => !(id === it.senderId && it.roles[i] !== "ROLE_OWNER" && it.roles.includes("ROLE_OWNER")))
        .map(([id, i]) => {
          const name = client.userName(id);
          const role = it.roles[i];
          if (role === "ROLE_OWNER") return id === client.me ? "You are now the owner" : `${name} is now the owner`;
          if (role === "ROLE_ADMIN") return `${who} made ${name} an admin`;
          return `${who} made ${name} a member`;
        })
        .join("; ");
    default:
      return "";
  }
}

/** Two letters for an avatar: of the first two words ("Ann Lee": AL), else the first two ("bob": BO). */
export function initials(name: string): string {
  const words = name.split(/\s+/).map((w) => w.replace(/[^\p{L}\p{N}]/gu, "")).filter(Boolean);
  if (words.length >= 2) return (words[0]!.slice(0, 1) + words[1]!.slice(0, 1)).toUpperCase();
  return (words[0] ?? "").slice(0, 2).toUpperCase() || "?";
}

/** When, as "12 Mar 2026, 14:05". */
export function when(ms: number): string {
  if (!ms) return "";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A browser's User-Agent in a few words ("Chrome on Linux"). */
export function agentSummary(ua: string): string {
  if (!ua) return "";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : ua.split(/[ /]/)[0]!;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
