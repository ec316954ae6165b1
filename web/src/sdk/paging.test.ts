import { describe, expect, it } from "vitest";
import { allMembers, eachPage, MAX_PAGES } from "./paging";
import type { Conversation, MembersPage } from "./protocol";

const member = (i: number) => ({ userId: `u${String(i).padStart(4, "0")}`, role: "ROLE_MEMBER" as const });

/** A server holding `n` members, answering `listMembers` in pages of `size`. */
function members(n: number, size: number) {
  const all = Array.from({ length: n }, (_, i) => member(i));
  const asked: string[] = [];
  const fetch = async (after: string): Promise<MembersPage> => {
    asked.push(after);
    const rest = all.filter((m) => m.userId > after);
    const page = rest.slice(0, size);
    const hasMore = rest.length > size;
    return { conversationId: "g", members: page, hasMore, nextAfter: hasMore ? page.at(-1)!.userId : "" };
  };
  return { all, asked, fetch };
}

describe("paging", () => {
  it("collects every member of a group larger than its first page", async () => {
    const s = members(1234, 100);
    const conv: Conversation = { id: "g", members: s.all.slice(0, 100), memberCount: 1234 };
    const got = await allMembers(conv, s.fetch);
    expect(got.map((m) => m.userId)).toEqual(s.all.map((m) => m.userId));
    expect(s.asked[0]).toBe("u0099");
    expect(s.asked).toHaveLength(12);
  });

  it("asks for nothing when the first page holds every member", async () => {
    const s = members(5, 100);
    const got = await allMembers({ id: "g", members: s.all, memberCount: 5 }, s.fetch);
    expect(got).toHaveLength(5);
    expect(s.asked).toHaveLength(0);
  });

  it("walks sync pages in order until hasMore is false", async () => {
    const pages: { items: string[]; hasMore: boolean; nextAfter: string }[] = [
      { items: ["a", "b"], hasMore: true, nextAfter: "b" },
      { items: ["c", "d"], hasMore: true, nextAfter: "d" },
      { items: ["e"], hasMore: false, nextAfter: "" },
    ];
    const asked: string[] = [];
    const seen: string[] = [];
    await eachPage(
      "",
      async (after) => {
        asked.push(after);
        return pages[asked.length - 1]!;
      },
      (p) => {
        seen.push(...p.items);
      },
    );
    expect(asked).toEqual(["", "b", "d"]);
    expect(seen).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("stops when told to, and on a cursor that does not move", async () => {
    let calls = 0;
    const stuck = async () => {
      calls++;
      return { hasMore: true, nextAfter: "x" };
    };
    await eachPage("", stuck, () => {});
    expect(calls).toBe(2); // "" -> "x", then "x" again: stop
    calls = 0;
    await eachPage("", stuck, () => false);
    expect(calls).toBe(1);
  });

  it("is bounded even against a server that always has more", async () => {
    let n = 0;
    const endless = async () => {
      n++;
      return { hasMore: true, nextAfter: `k${String(n).padStart(8, "0")}` };
    };
    await eachPage("", endless, () => {});
    expect(n).toBe(MAX_PAGES);
  });
});
