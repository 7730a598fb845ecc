// Photos from the camera, made ready on the phone: the camera's evidence read first from the ORIGINAL
// (its EXIF capture time, GPS and device, its SHA-256 and size: the copy kept has no metadata), then
// turned upright by the EXIF orientation, scaled to at most 1920 px on the long edge (before any canvas
// sees them: iOS refuses canvases over 16.7 million pixels), encoded as JPEG, kept as an ArrayBuffer
// (WebKit fails on Blobs in IndexedDB) with its SHA-256, plus a small thumbnail for the screens.
import type { Json } from "../api/types";
import type { PhotoMeta } from "./db";
import type { NewPhoto } from "./outbox";
import { sha256Hex } from "./canonical";
import { EXIF_HEAD_BYTES, evidenceOf, readExif, type ExifFacts } from "./exif";
import { isoLocal, uuid } from "./time";

export const MAX_EDGE = 1920;
const THUMB_EDGE = 240;

function fit(w: number, h: number, edge: number): [number, number] {
  const scale = Math.min(1, edge / Math.max(w, h));
  return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
}

async function decode(file: Blob): Promise<ImageBitmap | HTMLImageElement> {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch { /* fall back to <img>, which honours EXIF orientation by default */ }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function scaled(source: ImageBitmap | HTMLImageElement, w: number, h: number): Promise<CanvasImageSource> {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(source, { resizeWidth: w, resizeHeight: h, resizeQuality: "high" });
    } catch { /* draw scaled instead */ }
  }
  return source;
}

async function encode(source: CanvasImageSource, w: number, h: number, type: string, quality: number): Promise<ArrayBuffer> {
  if (typeof OffscreenCanvas === "function") {
    const canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext("2d")!;
    ctx.drawImage(source, 0, 0, w, h);
    return (await canvas.convertToBlob({ type, quality })).arrayBuffer();
  }
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d")!.drawImage(source, 0, 0, w, h);
  const blob = await new Promise<Blob | null>((res) => canvas.toBlob(res, type, quality));
  if (!blob) throw new Error("照片处理失败（浏览器无法编码图片）");
  return blob.arrayBuffer();
}

/** What the camera produced, before the phone made its copy: sent with the photo (docs/sync.md §5). */
export interface Original { sha256: string; size: number; width: number; height: number }

export interface PreparedPhoto extends NewPhoto {
  original: Original;
  exif: Omit<ExifFacts, "orientation"> | null;
}

export async function preparePhoto(file: Blob, inspectionId: number | null): Promise<PreparedPhoto> {
  // the evidence first, from the untouched file
  const exif = evidenceOf(readExif(await file.slice(0, EXIF_HEAD_BYTES).arrayBuffer()));
  const originalSha = await sha256Hex(await file.arrayBuffer());
  const image = await decode(file);
  const w0 = "naturalWidth" in image ? image.naturalWidth : image.width;
  const h0 = "naturalHeight" in image ? image.naturalHeight : image.height;
  const [w, h] = fit(w0, h0, MAX_EDGE);
  const data = await encode(await scaled(image, w, h), w, h, "image/jpeg", 0.85);
  const [tw, th] = fit(w, h, THUMB_EDGE);
  const thumb = await encode(await scaled(image, tw, th), tw, th, "image/jpeg", 0.7);
  if ("close" in image) image.close();
  const sha256 = await sha256Hex(data);
  const meta: PhotoMeta = { sha256, inspection_id: inspectionId, type: "image/jpeg", kind: "photo", size: data.byteLength,
    width: w, height: h, created: new Date().toISOString(), uploaded: 0, offset: 0, upload_url: null, error: null };
  return { meta, data, thumb, exif, original: { sha256: originalSha, size: file.size, width: w0, height: h0 } };
}

/**
 * The entry a record keeps for a photo (docs/sync.md §5, ``points.<cp>.photos``): the copy's hash, when
 * the phone took it and where the phone was, the original's hash and size, and the camera's EXIF.
 */
export function photoEntry(photo: PreparedPhoto, fix: Record<string, Json> | null, takenAt = isoLocal()): Record<string, Json> {
  const entry: Record<string, Json> = { id: uuid(), sha256: photo.meta.sha256, taken_at: takenAt,
    original: { ...photo.original } };
  if (fix) entry.gps = { ...fix };
  if (photo.exif) entry.exif = JSON.parse(JSON.stringify(photo.exif)) as Json;
  return entry;
}

/** Minutes between the camera's capture time (EXIF, with its offset, else this phone's zone) and ``at``. */
export function captureSkewMinutes(exif: PreparedPhoto["exif"], at: Date = new Date()): number | null {
  if (!exif?.time) return null;
  const t = new Date(exif.offset ? `${exif.time}${exif.offset}` : exif.time);   // no offset: local time
  return Number.isNaN(t.getTime()) ? null : Math.round((at.getTime() - t.getTime()) / 60000);
}

/** A signature pad's PNG, stored like a photo (kind signature). */
export async function prepareSignature(png: Blob, inspectionId: number): Promise<NewPhoto> {
  const data = await png.arrayBuffer();
  const sha256 = await sha256Hex(data);
  const meta: PhotoMeta = { sha256, inspection_id: inspectionId, type: "image/png", kind: "signature", size: data.byteLength,
    width: 0, height: 0, created: new Date().toISOString(), uploaded: 0, offset: 0, upload_url: null, error: null };
  return { meta, data, thumb: data };
}

export function objectUrl(data: ArrayBuffer, type = "image/jpeg"): string {
  return URL.createObjectURL(new Blob([data], { type }));
}
