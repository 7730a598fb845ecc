// The EXIF reader on real JPEG bytes (Pillow-made fixtures: test/fixtures/make_exif_jpegs.py), compared
// with what the server's reader (backend/media/processing.py) finds in the same files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIF_HEAD_BYTES, evidenceOf, readExif } from "../src/lib/exif";
import { captureSkewMinutes } from "../src/lib/photos";

function fixture(name: string): ArrayBuffer {
  const b = readFileSync(join(__dirname, "fixtures", name));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

describe("readExif", () => {
  it("reads capture time with its offset, GPS and the device from a little-endian (II) camera JPEG", () => {
    expect(readExif(fixture("camera-ii.jpg"))).toEqual({
      make: "HUAWEI", model: "NOH-AN00", orientation: 6,
      time: "2026-04-08T09:31:02", offset: "+08:00",
      gps: { lat: 34.7703, lon: 111.1938, datum: "WGS-84", alt: 312.5, accuracy: 12, time: "2026-04-08T01:31:02Z" },
    });
  });

  it("reads big-endian (MM) files, south and west as negative, and no offset when the camera gave none", () => {
    const facts = readExif(fixture("camera-mm.jpg"))!;
    expect(facts.make).toBe("Apple");
    expect(facts.model).toBe("iPhone 15");
    expect(facts.time).toBe("2026-04-08T09:31:02");
    expect(facts.offset).toBeUndefined();
    expect(facts.gps).toMatchObject({ lat: -34.7703, lon: -111.1938, datum: "WGS-84" });
  });

  it("takes DateTimeOriginal, never the file's DateTime, and leaves out what is absent", () => {
    expect(readExif(fixture("no-gps.jpg"))).toEqual({ orientation: 6, time: "2026-04-08T09:31:02", offset: "-05:30" });
    const tokyo = readExif(fixture("tokyo-datum.jpg"))!;
    expect(tokyo.time).toBeUndefined();                 // only DateTime (a write time) is there
    expect(tokyo.gps).toBeUndefined();                  // a datum a phone's fix cannot be compared with
    expect(tokyo.make).toBe("HUAWEI");
  });

  it("answers null for a JPEG without EXIF, another format, and never throws on broken bytes", () => {
    expect(readExif(fixture("no-exif.jpg"))).toBeNull();
    expect(readExif(new TextEncoder().encode("\x89PNG\r\n\x1a\n").buffer as ArrayBuffer)).toBeNull();
    const good = new Uint8Array(fixture("camera-ii.jpg"));
    for (const cut of [3, 10, 24, 60, 200, 400]) {
      expect(() => readExif(good.slice(0, cut).buffer)).not.toThrow();
    }
    const scrambled = good.slice();
    for (let i = 30; i < 300; i += 7) scrambled[i] = 0xff;      // offsets pointing anywhere
    expect(() => readExif(scrambled.buffer)).not.toThrow();
  });

  it("needs only the head of the file", () => {
    const whole = fixture("camera-ii.jpg");
    const padded = new Uint8Array(EXIF_HEAD_BYTES * 2);
    padded.set(new Uint8Array(whole));
    expect(readExif(padded.slice(0, EXIF_HEAD_BYTES).buffer)).toEqual(readExif(whole));
  });

  it("sends the evidence without the orientation, and measures how old a capture is", () => {
    const facts = evidenceOf(readExif(fixture("camera-ii.jpg")))!;
    expect(facts).not.toHaveProperty("orientation");
    expect(captureSkewMinutes(facts, new Date("2026-04-08T02:31:02Z"))).toBe(60);
    expect(captureSkewMinutes(null)).toBeNull();
  });
});
