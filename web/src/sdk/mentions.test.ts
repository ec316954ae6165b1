import { describe, expect, it } from "vitest";
import { mentionBeingTyped, mentionedNames, splitMentions } from "./mentions";

describe("mentions", () => {
  it("finds @-names at word starts only, trimming trailing punctuation", () => {
    expect(mentionedNames("@Bob, ask @carol. and @all! not mail@example.com or @@x")).toEqual(["bob", "carol", "all"]);
  });

  it("splits text into plain and @ parts that join back to the text", () => {
    const text = "hi @bob and a@b, @all.";
    const parts = splitMentions(text);
    expect(parts).toEqual(["hi ", "@bob", " and a@b, ", "@all."]);
    expect(parts.join("")).toBe(text);
  });

  it("tells the name being typed before the caret", () => {
    expect(mentionBeingTyped("hey @bo")).toEqual({ start: 4, prefix: "bo" });
    expect(mentionBeingTyped("@")).toEqual({ start: 0, prefix: "" });
    expect(mentionBeingTyped("mail@ex")).toBeNull();
    expect(mentionBeingTyped("done @bob ")).toBeNull();
  });
});
