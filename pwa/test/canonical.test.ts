import { describe, expect, it } from "vitest";
import { canonical, digest, sha256Hex, short } from "../src/lib/canonical";

describe("canonical JSON (RFC 8785), as sync/canonical.py", () => {
  it("sorts keys by UTF-16 code units and drops nothing but undefined", () => {
    expect(canonical({ b: 1, a: [true, null, "x"], "é": 2, "Z": {} })).toBe('{"Z":{},"a":[true,null,"x"],"b":1,"é":2}');
  });
  it("writes numbers as ECMAScript does", () => {
    expect(canonical([1.0, 0.1, 1e21, -0])).toBe("[1,0.1,1e+21,0]");
  });
  it("refuses non-finite numbers", () => {
    expect(() => canonical(Number.NaN)).toThrow();
  });
  it("hashes the canonical text", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await digest({ b: 2, a: 1 })).toBe(await sha256Hex('{"a":1,"b":2}'));
  });
  it("shortens a hash for people", () => {
    expect(short(null)).toBe("—");
    expect(short("0123456789abcdef")).toBe("01234567…cdef");
  });
});
