// How an @-name is written in a message, in one place: what the client
// resolves to mention ids on send, what the composer completes, and what a
// message view highlights all agree.

/** `@name` at the start of the text or after a character that is not a word character or `@`. */
const MENTION = /(?<![\w@])@([A-Za-z0-9_.-]+)/g;

/** The name of an `@name` token, as users are looked up (trailing `.`/`-` are punctuation). */
export function mentionName(raw: string): string {
  return raw.replace(/[.-]+$/, "").toLowerCase();
}

/** Every name `@`-mentioned in `text`, in order (repeats kept). */
export function mentionedNames(text: string): string[] {
  return [...text.matchAll(MENTION)].map((m) => mentionName(m[1] ?? ""));
}

/** `text` cut into plain parts and `@name` parts (which start with `@`), in order. */
export function splitMentions(text: string): string[] {
  return text.split(/((?<![\w@])@[A-Za-z0-9_.-]+)/).filter((p) => p !== "");
}

/** The `@name` being typed at the end of `before` (the text up to the caret), if any. */
export function mentionBeingTyped(before: string): { start: number; prefix: string } | null {
  const m = /(?<![\w@])@([A-Za-z0-9_.-]*)$/.exec(before);
  const typed = m?.[1];
  return typed === undefined ? null : { start: before.length - typed.length - 1, prefix: typed.toLowerCase() };
}
