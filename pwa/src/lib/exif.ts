// What a camera wrote into a JPEG's EXIF (APP1) that is evidence: the capture time and its zone
// offset, the GPS fix, the device. Read on the phone from the ORIGINAL file, before it is scaled down
// and re-encoded (which keeps no metadata), and sent with the photo's entry (docs/sync.md §5). A small
// reader of the TIFF structure (EXIF 2.32 / CIPA DC-008): IFD0 → Exif IFD and GPS IFD, both byte
// orders, every offset bounds-checked; anything malformed is skipped, never thrown.

export interface ExifGps {
  lat: number;
  lon: number;
  datum: "WGS-84" | "GCJ-02";
  alt?: number;
  accuracy?: number;      // GPSHPositioningError, metres
  time?: string;          // GPSDateStamp + GPSTimeStamp, UTC: "2026-04-08T01:31:02Z"
}

export interface ExifFacts {
  time?: string;          // DateTimeOriginal (else DateTimeDigitized) as written: "2026-04-08T09:31:02" (no zone)
  offset?: string;        // OffsetTimeOriginal (else OffsetTimeDigitized, OffsetTime): "+08:00"
  gps?: ExifGps;
  make?: string;
  model?: string;
  orientation?: number;
}

/** The bytes the reader needs: the start of the file (the APP1 segment is at most 64 KB, near the start). */
export const EXIF_HEAD_BYTES = 256 * 1024;

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };
const MAX_ENTRIES = 512;

type Value = number[] | string;

class Tiff {
  constructor(private view: DataView, readonly start: number, private end: number, private little: boolean) {}

  u16(at: number): number | null {
    return at >= this.start && at + 2 <= this.end ? this.view.getUint16(at, this.little) : null;
  }

  u32(at: number): number | null {
    return at >= this.start && at + 4 <= this.end ? this.view.getUint32(at, this.little) : null;
  }

  /** The entries of the IFD at ``offset`` (relative to the TIFF header): tag → value. */
  ifd(offset: number): Map<number, Value> {
    const out = new Map<number, Value>();
    const at = this.start + offset;
    const count = this.u16(at);
    if (count === null || count > MAX_ENTRIES) return out;
    for (let i = 0; i < count; i++) {
      const entry = at + 2 + i * 12;
      const tag = this.u16(entry), type = this.u16(entry + 2), n = this.u32(entry + 4);
      if (tag === null || type === null || n === null) break;
      const size = TYPE_SIZE[type];
      if (!size || n === 0 || n > 65536) continue;
      let data = entry + 8;
      if (size * n > 4) {
        const rel = this.u32(entry + 8);
        if (rel === null) continue;
        data = this.start + rel;
      }
      if (data < this.start || data + size * n > this.end) continue;
      const value = this.read(type, data, n);
      if (value !== null) out.set(tag, value);
    }
    return out;
  }

  private read(type: number, at: number, n: number): Value | null {
    const v = this.view;
    if (type === 2) {
      let s = "";
      for (let i = 0; i < n; i++) {
        const c = v.getUint8(at + i);
        if (c === 0) break;
        s += String.fromCharCode(c);
      }
      return s;
    }
    const out: number[] = [];
    for (let i = 0; i < n && i < 64; i++) {
      if (type === 1 || type === 7) out.push(v.getUint8(at + i));
      else if (type === 3) out.push(v.getUint16(at + 2 * i, this.little));
      else if (type === 4) out.push(v.getUint32(at + 4 * i, this.little));
      else if (type === 9) out.push(v.getInt32(at + 4 * i, this.little));
      else if (type === 5 || type === 10) {
        const signed = type === 10;
        const num = signed ? v.getInt32(at + 8 * i, this.little) : v.getUint32(at + 8 * i, this.little);
        const den = signed ? v.getInt32(at + 8 * i + 4, this.little) : v.getUint32(at + 8 * i + 4, this.little);
        out.push(den === 0 ? Number.NaN : num / den);
      }
    }
    return out;
  }
}

/** The TIFF structure inside the JPEG's "Exif\0\0" APP1 segment, or null. */
function findTiff(view: DataView): Tiff | null {
  if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;
  let at = 2;
  while (at + 4 <= view.byteLength) {
    if (view.getUint8(at) !== 0xff) return null;
    const marker = view.getUint8(at + 1);
    if (marker === 0xff) { at += 1; continue; }                    // fill byte
    if (marker === 0xd9 || marker === 0xda) return null;           // end of image / start of scan: no EXIF before
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { at += 2; continue; }
    const length = view.getUint16(at + 2);
    if (length < 2) return null;
    const body = at + 4, end = Math.min(at + 2 + length, view.byteLength);
    if (marker === 0xe1 && end - body >= 14 && view.getUint32(body) === 0x45786966 && view.getUint16(body + 4) === 0) {
      const tiff = body + 6;
      const order = view.getUint16(tiff);
      if (order !== 0x4949 && order !== 0x4d4d) return null;
      const little = order === 0x4949;
      if (view.getUint16(tiff + 2, little) !== 42) return null;
      return new Tiff(view, tiff, end, little);
    }
    at += 2 + length;
  }
  return null;
}

function text(v: Value | undefined, limit = 64): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.replace(/[\u0000-\u001f\u007f-\uffff]/g, "").trim();
  return s ? s.slice(0, limit) : undefined;
}

function num(v: Value | undefined): number | undefined {
  return Array.isArray(v) && v.length && Number.isFinite(v[0]) ? v[0] : undefined;
}

function dms(v: Value | undefined): number | undefined {
  if (!Array.isArray(v) || !v.length || v.some((x) => !Number.isFinite(x) || x < 0)) return undefined;
  const [d, m = 0, s = 0] = v;
  return d + m / 60 + s / 3600;
}

/** "2026:04:08 09:31:02" → "2026-04-08T09:31:02", when it is a real date and time. */
export function exifLocalTime(v: Value | undefined): string | undefined {
  const s = text(v);
  const m = s?.match(/^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (y < 1900 || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return undefined;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
}

function offset(v: Value | undefined): string | undefined {
  const s = text(v);
  const m = s?.match(/^([+-])(\d{2}):(\d{2})$/);
  if (!m || Number(m[2]) > 14 || Number(m[3]) > 59) return undefined;
  return s;
}

function datum(v: Value | undefined): ExifGps["datum"] | null {
  const s = (text(v) || "").toUpperCase().replace(/[^A-Z0-9]/g, "");
  if (!s || s === "WGS84") return "WGS-84";
  if (s === "GCJ02") return "GCJ-02";
  return null;                     // another datum (e.g. TOKYO): not comparable with a phone's fix
}

function gpsTime(date: Value | undefined, time: Value | undefined): string | undefined {
  const d = text(date)?.match(/^(\d{4}):(\d{2}):(\d{2})$/);
  if (!d || !Array.isArray(time) || time.length < 3 || time.some((x) => !Number.isFinite(x) || x < 0)) return undefined;
  const t = new Date(Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3])) + ((time[0] * 60 + time[1]) * 60 + time[2]) * 1000);
  if (Number.isNaN(t.getTime())) return undefined;
  return t.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function readGps(g: Map<number, Value>): ExifGps | undefined {
  let lat = dms(g.get(2)), lon = dms(g.get(4));
  const d = datum(g.get(18));
  if (lat === undefined || lon === undefined || d === null) return undefined;
  if ((text(g.get(1)) || "N").toUpperCase().startsWith("S")) lat = -lat;
  if ((text(g.get(3)) || "E").toUpperCase().startsWith("W")) lon = -lon;
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180 || (lat === 0 && lon === 0)) return undefined;
  const out: ExifGps = { lat: Math.round(lat * 1e7) / 1e7, lon: Math.round(lon * 1e7) / 1e7, datum: d };
  const alt = num(g.get(6));
  if (alt !== undefined && Math.abs(alt) < 100000) out.alt = Math.round((num(g.get(5)) === 1 ? -alt : alt) * 100) / 100;
  const acc = num(g.get(31));
  if (acc !== undefined && acc >= 0 && acc <= 100000) out.accuracy = Math.round(acc * 100) / 100;
  const time = gpsTime(g.get(29), g.get(7));
  if (time) out.time = time;
  return out;
}

/** The evidence in a JPEG's EXIF (give it at least the first ``EXIF_HEAD_BYTES``); null when it has none. */
export function readExif(buf: ArrayBuffer): ExifFacts | null {
  let tiff: Tiff | null;
  try {
    tiff = findTiff(new DataView(buf));
  } catch {
    return null;
  }
  if (!tiff) return null;
  try {
    const first = tiff.u32(tiff.start + 4);
    if (first === null) return null;
    const ifd0 = tiff.ifd(first);
    const out: ExifFacts = {};
    const make = text(ifd0.get(0x010f)), model = text(ifd0.get(0x0110));
    if (make) out.make = make;
    if (model) out.model = model;
    const orientation = num(ifd0.get(0x0112));
    if (orientation !== undefined && orientation >= 1 && orientation <= 8) out.orientation = orientation;
    const exifAt = num(ifd0.get(0x8769));
    const exif = exifAt !== undefined ? tiff.ifd(exifAt) : new Map<number, Value>();
    for (const [stamp, zone] of [[0x9003, 0x9011], [0x9004, 0x9012]]) {
      const t = exifLocalTime(exif.get(stamp));
      if (!t) continue;
      out.time = t;
      const o = offset(exif.get(zone)) ?? offset(exif.get(0x9010));
      if (o) out.offset = o;
      break;
    }
    const gpsAt = num(ifd0.get(0x8825));
    if (gpsAt !== undefined) {
      const gps = readGps(tiff.ifd(gpsAt));
      if (gps) out.gps = gps;
    }
    return Object.keys(out).length ? out : null;
  } catch {
    return null;
  }
}

/** The facts worth sending with a photo (orientation only served the decoding). */
export function evidenceOf(facts: ExifFacts | null): Omit<ExifFacts, "orientation"> | null {
  if (!facts) return null;
  const { orientation: _unused, ...rest } = facts;
  return Object.keys(rest).length ? rest : null;
}
