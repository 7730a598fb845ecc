// GPS fixes as the protocol stores them, and the distance to the business's registered location
// (GCJ-02 map points converted back to WGS-84 first; the phone's own fixes are WGS-84).
export interface Fix { lat: number; lon: number; accuracy: number; datum: "WGS-84" | "GCJ-02"; time: string; source: "gps" | "network" | "manual" | "exif" }

import { isoLocal } from "./time";

export const FAR_METRES = 500;

export function getFix(timeout = 20000): Promise<Fix> {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) { reject(new Error("本机不支持定位")); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: Math.round(p.coords.latitude * 1e6) / 1e6, lon: Math.round(p.coords.longitude * 1e6) / 1e6,
        accuracy: Math.round(p.coords.accuracy * 10) / 10, datum: "WGS-84", time: isoLocal(new Date(p.timestamp)),
        source: p.coords.accuracy > 200 ? "network" : "gps" }),
      (e) => reject(new Error(e.code === 1 ? "未允许定位：请在浏览器设置中允许本应用使用位置" : e.code === 3 ? "定位超时，请到开阔处再试" : "无法定位")),
      { enableHighAccuracy: true, timeout, maximumAge: 0 });
  });
}

function outOfChina(lat: number, lon: number) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function gcjOffset(lat: number, lon: number): [number, number] {
  const a = 6378245.0, ee = 0.00669342162296594323, pi = Math.PI;
  const x = lon - 105.0, y = lat - 35.0;
  let dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dlat += (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
  dlat += (20.0 * Math.sin(y * pi) + 40.0 * Math.sin(y / 3.0 * pi)) * 2.0 / 3.0;
  dlat += (160.0 * Math.sin(y / 12.0 * pi) + 320 * Math.sin(y * pi / 30.0)) * 2.0 / 3.0;
  let dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dlon += (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
  dlon += (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x / 3.0 * pi)) * 2.0 / 3.0;
  dlon += (150.0 * Math.sin(x / 12.0 * pi) + 300.0 * Math.sin(x / 30.0 * pi)) * 2.0 / 3.0;
  const rad = lat / 180.0 * pi;
  const magic = 1 - ee * Math.sin(rad) ** 2;
  const sq = Math.sqrt(magic);
  return [(dlat * 180.0) / ((a * (1 - ee)) / (magic * sq) * pi), (dlon * 180.0) / (a / sq * Math.cos(rad) * pi)];
}

/** GCJ-02 → WGS-84 (one step of the inverse; metres-level, enough for a distance warning). */
export function toWgs(lat: number, lon: number, datum: string): [number, number] {
  if (datum !== "GCJ-02" || outOfChina(lat, lon)) return [lat, lon];
  const [dlat, dlon] = gcjOffset(lat, lon);
  return [lat - dlat, lon - dlon];
}

/** WGS-84 → GCJ-02, for map apps that expect it (Amap). */
export function toGcj(lat: number, lon: number): [number, number] {
  if (outOfChina(lat, lon)) return [lat, lon];
  const [dlat, dlon] = gcjOffset(lat, lon);
  return [lat + dlat, lon + dlon];
}

export function metres(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = 6371008.8, rad = Math.PI / 180;
  const dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
  const h = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function distanceTo(fix: { lat: number; lon: number; datum?: string }, place: { lat: number; lon: number; datum: string } | null): number | null {
  if (!place) return null;
  const [a, b] = toWgs(fix.lat, fix.lon, fix.datum || "WGS-84");
  const [c, d] = toWgs(place.lat, place.lon, place.datum);
  return metres(a, b, c, d);
}

export function formatDistance(m: number | null): string {
  if (m === null) return "距离未知";
  return m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`;
}

/** Far from the registered address: beyond the radius plus the fix's own uncertainty. */
export function isFar(fix: Fix, place: { lat: number; lon: number; datum: string } | null): boolean {
  const d = distanceTo(fix, place);
  return d !== null && d > FAR_METRES + fix.accuracy;
}

/** A navigation link: Amap's URI (GCJ-02) on phones that have it, and the geo: URI as the standard. */
export function navLinks(place: { lat: number; lon: number; datum: string } | null, name: string, address: string | null) {
  if (!place) return { amap: `https://uri.amap.com/search?keyword=${encodeURIComponent(address || name)}`, geo: `geo:0,0?q=${encodeURIComponent(address || name)}` };
  const [wlat, wlon] = toWgs(place.lat, place.lon, place.datum);
  const [glat, glon] = place.datum === "GCJ-02" ? [place.lat, place.lon] : toGcj(place.lat, place.lon);
  return {
    amap: `https://uri.amap.com/navigation?to=${glon},${glat},${encodeURIComponent(name)}&mode=car&coordinate=gaode&callnative=1`,
    geo: `geo:${wlat.toFixed(6)},${wlon.toFixed(6)}?q=${wlat.toFixed(6)},${wlon.toFixed(6)}(${encodeURIComponent(name)})`,
  };
}
