// The 统一社会信用代码 (GB 32100-2015) in a business licence's QR code: the code usually sits in a
// URL (the national enterprise credit publicity system) or in plain text. Find the 18 characters
// whose check character is right.
const ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function usccValid(code: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += ALPHABET.indexOf(code[i]) * WEIGHTS[i];
  return ALPHABET[(31 - (sum % 31)) % 31] === code[17];
}

export function extractUscc(text: string): string | null {
  let decoded = text;
  try { decoded = decodeURIComponent(text); } catch { /* keep as is */ }
  const upper = decoded.toUpperCase();
  for (let i = 0; i + 18 <= upper.length; i++) {
    const candidate = upper.slice(i, i + 18);
    if (usccValid(candidate)) return candidate;
  }
  return null;
}
