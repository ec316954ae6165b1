import { describe, expect, it } from "vitest";
import { Timeline } from "./timeline";
import type { Event } from "./protocol";

const ev = (seq: number): Event => ({ conversationId: "c", seq: String(seq) });
const seqs = (es: Event[]) => es.map((e) => Number(e.seq));

describe("Timeline", () => {
  it("reorders, drops duplicates and reports gaps", () => {
    const t = new Timeline(0);
    expect(seqs(t.push(ev(1)))).toEqual([1]);
    expect(t.push(ev(3))).toEqual([]);
    expect(t.gap()).toEqual([2, 2]);
    expect(t.push(ev(1))).toEqual([]);
    expect(seqs(t.push(ev(2)))).toEqual([2, 3]);
    expect(t.gap()).toBeNull();
    expect(t.push(ev(6))).toEqual([]);
    expect(t.gap()).toEqual([4, 5]);
    expect(seqs(t.skip(["4", 5]))).toEqual([6]);
    expect(t.delivered).toBe(6);
  });

  it("starts after a given seq and ignores what came before", () => {
    const t = new Timeline(10);
    expect(t.push(ev(9))).toEqual([]);
    expect(seqs(t.applyHistory([ev(12), ev(11)], ["13"]))).toEqual([11, 12]);
    expect(t.delivered).toBe(13);
  });

  it("delivers every event once, in order, for any arrival order (randomised)", () => {
    let rng = 12345;
    const rand = (n: number) => {
      rng = (rng * 1103515245 + 12345) % 2 ** 31;
      return rng % n;
    };
    for (let round = 0; round < 300; round++) {
      const n = 1 + rand(60);
      const holes = new Set<number>();
      for (let i = rand(8); i > 0; i--) holes.add(1 + rand(n));
      const real = [...Array(n).keys()].map((i) => i + 1).filter((s) => !holes.has(s));
      const arrivals = [...real];
      for (let i = rand(100); i > 0 && real.length > 0; i--) arrivals.push(real[rand(real.length)]!);
      for (let i = arrivals.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
      }
      const t = new Timeline(0);
      const out: number[] = [];
      for (const s of arrivals) out.push(...seqs(t.push(ev(s))));
      out.push(...seqs(t.skip([...holes])));
      expect(out).toEqual(real);
      expect(t.gap()).toBeNull();
    }
  });

  it("treats seqs before where I may read as delivered", () => {
    const t = new Timeline(3);
    expect(t.push({ conversationId: "c", seq: "9" })).toEqual([]);
    expect(t.gap()).toEqual([4, 8]);
    // History says I may read from 8 (re-added to a group that hides older messages).
    const out = t.applyHistory([{ conversationId: "c", seq: "8" }], [], "8");
    expect(out.map((e) => e.seq)).toEqual(["8", "9"]);
    expect(t.delivered).toBe(9);
    expect(t.startAt(2)).toEqual([]);
  });
});
