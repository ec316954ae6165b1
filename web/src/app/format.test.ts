import { describe, expect, it } from "vitest";
import { dayKey, dayLabel } from "./format";

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
