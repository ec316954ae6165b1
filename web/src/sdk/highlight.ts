// A search hit's fragment in pieces, the matched ones marked. The server
// gives byte offsets into the UTF-8 text; JavaScript strings are UTF-16,
// so the cut is made on the bytes.

export interface Piece {
  text: string;
  mark: boolean;
}

export function highlightPieces(fragment: string, highlights: { start?: number; end?: number }[]): Piece[] {
  const bytes = new TextEncoder().encode(fragment);
  const dec = new TextDecoder();
  const ranges = highlights
    .map((h) => [h.start ?? 0, h.end ?? 0] as const)
    .filter(([a, b]) => a < b && b <= bytes.length)
    .sort(([a], [b]) => a - b);
  const out: Piece[] = [];
  let at = 0;
  for (const [a, b] of ranges) {
    if (a < at) continue; // overlapping: keep the first
    if (a > at) out.push({ text: dec.decode(bytes.slice(at, a)), mark: false });
    out.push({ text: dec.decode(bytes.slice(a, b)), mark: true });
    at = b;
  }
  if (at < bytes.length) out.push({ text: dec.decode(bytes.slice(at)), mark: false });
  return out;
}
