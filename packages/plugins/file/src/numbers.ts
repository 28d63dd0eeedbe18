/**
 * Whether a number as written (a JSON or CSV number literal) and the double it parses to are the
 * same value. A double holds any value of up to 15 significant digits between about 1e-307 and
 * 1e308 exactly as written; past that (`12345678901234567890`, `1e400`, `1e-400`,
 * `0.1000000000000000055511`) the digits are compared with the double's shortest form.
 */
export function doubleHolds(text: string, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const written = decompose(text);
  if (written.digits.length <= 15 && written.exponent > -307 && written.exponent < 308) return true;
  const held = decompose(String(value));
  if (written.digits === '') return held.digits === '';
  return written.digits === held.digits && written.exponent === held.exponent && written.negative === held.negative;
}

interface Decomposed {
  readonly negative: boolean;
  /** Significant digits, without leading or trailing zeros ('' for zero). */
  readonly digits: string;
  /** The value is 0.digits × 10^exponent. */
  readonly exponent: number;
}

function decompose(text: string): Decomposed {
  let i = 0;
  const negative = text.charCodeAt(0) === 0x2d;
  if (negative) i++;
  let digits = '';
  let point = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) point = digits.length;
    else if (c >= 0x30 && c <= 0x39) digits += text[i];
    else break;
  }
  let exponent = 0;
  if (i < text.length) exponent = Number(text.slice(i + 1));
  let before = point === -1 ? digits.length : point;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 0x30) lead++;
  let trail = digits.length;
  while (trail > lead && digits.charCodeAt(trail - 1) === 0x30) trail--;
  before -= lead;
  digits = digits.slice(lead, trail);
  return { negative, digits, exponent: digits === '' ? 0 : before + exponent };
}
