// The public portal's logic (portal/lib/public.ts) and the draw verifier's plain-JavaScript hashing
// (public/draw/sha256.js, rank.js): the same bytes as node:crypto and as the Python draw (the vectors).
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { beijing, classifySearch, drawCountText, drawListParams, fileSha256, isSha256, recordPath, taskPath } from "../portal/lib/public";
import { sha256, ticketer, wordsToHex } from "../public/draw/sha256.js";
import { compareCodePoints, smallest, smallestOfBytes } from "../public/draw/rank.js";

const vectors = JSON.parse(readFileSync(resolve(process.cwd(), "../tests/data/draw-vectors.json"), "utf-8")) as {
  tickets: { seed: string; parts: string[]; ticket: string }[];
  draws: { task: string; seed: string; targets: { id: string; stratum: string }[]; result: { selected: Record<string, string[]> } }[];
};

describe("classifySearch", () => {
  it("tells a USCC, a registration number, a SHA-256 and a name apart", () => {
    expect(classifySearch(" 9141 1203 3467 0202 69 ")).toEqual({ uscc: "914112033467020269" });
    expect(classifySearch("91411203346702026z")).toEqual({ q: "91411203346702026z" });  // Z is no USCC character
    expect(classifySearch("91411203ma44xx6x7j")).toEqual({ uscc: "91411203MA44XX6X7J" });
    expect(classifySearch("411203000012345")).toEqual({ uscc: "411203000012345" });
    const hash = "A".repeat(64);
    expect(classifySearch(hash)).toEqual({ hash: "a".repeat(64) });
    expect(classifySearch("  嘉禾   农业 ")).toEqual({ q: "嘉禾 农业" });
    expect(classifySearch("   ")).toBeNull();
    expect(classifySearch("字".repeat(100))).toEqual({ q: "字".repeat(64) });
    expect(isSha256("ab".repeat(32))).toBe(true);
    expect(isSha256("ab".repeat(31))).toBe(false);
  });
});

describe("portal helpers", () => {
  it("hashes a file as sha256sum does", async () => {
    const bytes = randomBytes(100_000);
    expect(await fileSha256(new Blob([bytes]))).toBe(createHash("sha256").update(bytes).digest("hex"));
  });
  it("writes dates in Beijing time", () => {
    expect(beijing("2026-07-08")).toBe("2026年7月8日");
    expect(beijing("2026-07-20T17:30:00+00:00")).toBe("2026年7月21日");
    expect(beijing("2026-07-20T02:00:00+00:00", true)).toBe("2026年7月20日 10:00");
    expect(beijing(null)).toBe("—");
  });
  it("keeps the task page and record addresses stable", () => {
    expect(taskPath("SS-2026-001")).toBe("/tasks/SS-2026-001");
    expect(taskPath("SS 1/2", 2)).toBe("/tasks/SS%201%2F2?seq=2");
    expect(recordPath("SS-2026-001")).toBe("/api/public/draws/SS-2026-001/record");
    expect(recordPath("SS-2026-001", 3)).toBe("/api/public/draws/SS-2026-001/record?seq=3");
  });
});

describe("the public list of draws", () => {
  it("asks the API only for what the URL holds that it accepts", () => {
    expect(drawListParams({})).toEqual({ page_size: "20" });
    expect(drawListParams({ q: " 食品 ", year: "2026", status: "drawn", page: "2" }))
      .toEqual({ page_size: "20", q: "食品", year: "2026", status: "drawn", page: "2" });
    expect(drawListParams({ year: "26", status: "superseded", page: "0", q: ["x"] })).toEqual({ page_size: "20" });
  });
  it("says how many were (or will be) drawn from how many", () => {
    expect(drawCountText({ status: "drawn", candidates: 282, drawn: 8 })).toBe("从 282 户中抽取 8 户");
    expect(drawCountText({ status: "committed", candidates: 282, drawn: 8 })).toBe("将从 282 户中抽取 8 户");
  });
});

describe("plain-JavaScript SHA-256 and tickets", () => {
  it("hashes every length as node:crypto does", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const bytes = randomBytes(n);
      expect(Buffer.from(sha256(bytes)).toString("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });
  it("computes the draw's tickets (HMAC-SHA256) for any seed, prefix and id", () => {
    const out = new Int32Array(8);
    for (const seed of ["abc", "k".repeat(64), "k".repeat(65), "种子🙂"]) {
      for (const parts of [["ent", "SS-1"], ["lead", "T", "0"], ["x".repeat(70)]]) {
        const one = ticketer(seed, parts);
        for (const id of ["", "914112033467020269", "编号", "z".repeat(60), "q".repeat(130), "\u{1d4b3}"]) {
          one(id, out, 0);
          const want = createHmac("sha256", Buffer.from(seed)).update(Buffer.from(["dsr/v1", ...parts, id].join("|"))).digest("hex");
          expect(wordsToHex(out)).toBe(want);
        }
      }
    }
  });
  it("reproduces the vectors' tickets and each stratum's selection", () => {
    const out = new Int32Array(8);
    for (const t of vectors.tickets) {
      ticketer(t.seed, t.parts.slice(0, -1))(t.parts[t.parts.length - 1], out, 0);
      expect(wordsToHex(out)).toBe(t.ticket);
    }
    for (const d of vectors.draws) {
      for (const [stratum, want] of Object.entries(d.result.selected)) {
        const ids = d.targets.filter((t) => t.stratum === stratum).map((t) => t.id);
        const { index } = smallest(d.seed, ["ent", d.task], ids, want.length);
        expect(Array.from(index, (i) => ids[i])).toEqual(want);
      }
    }
  });
  it("ranks by ticket, then by id in code point order, whatever the buffer size", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `T-${i}`);
    const all = smallest("seed", ["ent", "X"], ids, ids.length);
    const few = smallest("seed", ["ent", "X"], ids, 7);
    expect(Array.from(few.index)).toEqual(Array.from(all.index.slice(0, 7)));
    const hex = Array.from(all.index, (_, j) => wordsToHex(all.tickets, 8 * j));
    expect([...hex].sort()).toEqual(hex);
    expect(["é", "\uffff", "z", "\u{1f600}", "e"].sort(compareCodePoints)).toEqual(["e", "z", "é", "\uffff", "\u{1f600}"]);
  });
  it("ranks ids given as UTF-8 bytes (the workers' way) exactly as ids given as strings", () => {
    const ids = Array.from({ length: 6000 }, (_, i) => (i % 7 === 0 ? `编号-${i}` : i % 11 === 0 ? `L${"x".repeat(80)}${i}` : `T-${i}`));
    ids.push("", "\u{1d4b3}", "\uffff");
    const bytes = new TextEncoder().encode(ids.join("\n"));
    for (const n of [1, 7, 5000, ids.length]) {
      const a = smallest("seed", ["ent", "X"], ids, n);
      const b = smallestOfBytes("seed", ["ent", "X"], bytes, ids.length, n);
      expect(b && Array.from(b.index)).toEqual(Array.from(a.index));
      expect(b && Array.from(b.tickets)).toEqual(Array.from(a.tickets));
    }
    // an id with a newline: the bytes do not hold the ids (the page ranks the strings)
    expect(smallestOfBytes("seed", ["ent"], new TextEncoder().encode(["a", "b\nc"].join("\n")), 2, 1)).toBeNull();
  });
});
