// QR decoding with ZXing-C++ compiled to WebAssembly (zxing-wasm), served from this app (never a CDN)
// and precached by the service worker so scanning works offline.
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";
import wasmUrl from "zxing-wasm/reader/zxing_reader.wasm?url";

let prepared = false;

function prepare() {
  if (prepared) return;
  prepareZXingModule({ overrides: { locateFile: (path: string, prefix: string) => (path.endsWith(".wasm") ? wasmUrl : prefix + path) } });
  prepared = true;
}

export async function decodeQr(source: Blob | ImageData): Promise<string | null> {
  prepare();
  const results = await readBarcodes(source, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
  const hit = results.find((r) => r.isValid && r.text);
  return hit ? hit.text : null;
}
