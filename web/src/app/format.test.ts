import { describe, expect, it } from "vitest";
import { agentSummary, dayKey, dayLabel, initials, when } from "./format";

describe("day separators", () => {
  it("says Today and Yesterday, then the date (with the year when it is not this one)", () => {
    const now = new Date(2026, 11, 7, 15, 0).getTime();
    expect(dayLabel(new Date(2026, 11, 7, 0, 5).getTime(), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 11, 6, 23, 59).getTime(), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 10, 2, 9, 0).getTime(), now)).not.toMatch(/2026/);
    expect(dayLabel(new Date(2025, 10, 2, 9, 0).getTime(), now)).toMatch(/2025/);
    expect(dayKey(new Date(2026, 11, 7, 0, 0).getTime())).toBe(dayKey(new Date(2026, 11, 7, 23, 59).getTime()));
  });
});

describe("sessions", () => {
  it("sums up a browser's User-Agent in a few words", () => {
    const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    expect(agentSummary(chrome)).toBe("Chrome on Linux");
    expect(agentSummary("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")).toBe("Safari on iOS");
    expect(agentSummary("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")).toBe("Firefox on Windows");
    expect(agentSummary(chrome.replace("Safari/537.36", "Safari/537.36 Edg/131.0.0.0"))).toBe("Edge on Linux");
    expect(agentSummary("parley-sdk/0.1")).toBe("parley-sdk");
    expect(agentSummary("")).toBe("");
  });

  it("shows no time for a zero timestamp", () => {
    expect(when(0)).toBe("");
    expect(when(Date.UTC(2026, 2, 12, 14, 5))).toMatch(/2026/);
  });
});

describe("avatars", () => {
  it("take the first letters of two words, or the first two of one", () => {
    expect(initials("Ann Lee")).toBe("AL");
    expect(initials("bob")).toBe("BO");
    expect(initials("émile zola")).toBe("ÉZ");
    expect(initials("  ")).toBe("?");
    expect(initials("Book club (2026)")).toBe("BC");
  });
});
