import type { Conversation, Member, MembersPage } from "./protocol";

/** A page of a listing the server bounds by count and bytes. */
export interface Page {
  hasMore?: boolean;
  nextAfter?: string;
}

/** Most pages one listing may take: a server that keeps saying `hasMore`
 * cannot keep a client looping (10,000 pages of sync is ~1M conversations). */
export const MAX_PAGES = 10_000;

/**
 * Fetches every page of a listing: `fetch(after)` from `after`, handing each
 * page to `take`, until the server says there is no more. Stops, too, when
 * `take` returns false (e.g. the connection changed meanwhile) and when a
 * page does not move the cursor forward (which would repeat forever).
 */
export async function eachPage<P extends Page>(
  after: string,
  fetch: (after: string) => Promise<P>,
  take: (page: P) => boolean | void,
): Promise<void> {
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const page = await fetch(after);
    if (take(page) === false) return;
    const next = page.nextAfter ?? "";
    if (!page.hasMore || !next || next <= after) return;
    after = next;
  }
}

/** Every member of a conversation: the first page it came with, then
 * `listMembers` pages after it while `memberCount` says there are more. */
export async function allMembers(
  conv: Conversation,
  fetch: (after: string) => Promise<MembersPage>,
): Promise<Member[]> {
  const members = [...(conv.members ?? [])];
  if ((conv.memberCount ?? 0) <= members.length) return members;
  await eachPage(members.at(-1)?.userId ?? "", fetch, (page) => {
    members.push(...(page.members ?? []));
  });
  return members;
}
