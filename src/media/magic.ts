// The upload allowlist (SPEC 5) and each format's leading bytes where it has them.
// Formats without a signature (vcard, plain text) must at least be valid UTF-8 text.

export const ALLOWED_TYPES = [
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "video/mp4",
  "video/3gpp",
  "audio/mpeg",
  "audio/ogg",
  "audio/amr",
  "application/pdf",
  "text/vcard",
  "text/plain",
] as const;
export type AllowedType = (typeof ALLOWED_TYPES)[number];

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((x, i) => b[at + i] === x);

const checks: Record<AllowedType, (b: Uint8Array) => boolean> = {
  "image/jpeg": (b) => startsWith(b, [0xff, 0xd8, 0xff]),
  "image/png": (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  "image/gif": (b) => startsWith(b, ascii("GIF87a")) || startsWith(b, ascii("GIF89a")),
  "image/webp": (b) => startsWith(b, ascii("RIFF")) && startsWith(b, ascii("WEBP"), 8),
  // ISO base media: a box whose type is "ftyp" at offset 4.
  "video/mp4": (b) => startsWith(b, ascii("ftyp"), 4),
  "video/3gpp": (b) => startsWith(b, ascii("ftyp"), 4) && startsWith(b, ascii("3g"), 8),
  // An ID3 tag, or an MPEG audio frame sync.
  "audio/mpeg": (b) => startsWith(b, ascii("ID3")) || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0),
  "audio/ogg": (b) => startsWith(b, ascii("OggS")),
  "audio/amr": (b) => startsWith(b, ascii("#!AMR")),
  "application/pdf": (b) => startsWith(b, ascii("%PDF-")),
  "text/vcard": (b) => isUtf8(b) && /BEGIN:VCARD/i.test(new TextDecoder().decode(b.subarray(0, 1024))),
  "text/plain": (b) => isUtf8(b),
};

function isUtf8(b: Uint8Array) {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(b);
    return true;
  } catch {
    return false;
  }
}

export const isAllowedType = (t: string): t is AllowedType => (ALLOWED_TYPES as readonly string[]).includes(t);
export const matchesMagic = (type: AllowedType, bytes: Uint8Array) => checks[type](bytes);
