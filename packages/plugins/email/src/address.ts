/** One mailbox: an address and an optional display name. */
export interface Mailbox {
  readonly name: string;
  readonly address: string;
}

// Pragmatic, not RFC 5322 in full: a dot-atom local part (Unicode allowed, for SMTPUTF8) and a
// domain of labels or an address literal. Quoted local parts and comments are not accepted.
const LOCAL = /^[^\s@"(),:;<>[\]\\.]+(\.[^\s@"(),:;<>[\]\\.]+)*$/u;
const DOMAIN = /^(([\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?)(\.[\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?)*|\[[0-9A-Fa-f:.]+\])$/u;

/** Whether `text` is a bare address: `local@domain`. */
export function isAddress(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1 || text.length > 320) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  return local.length <= 64 && domain.length <= 255 && LOCAL.test(local) && DOMAIN.test(domain);
}

/** Splits an address list on `,` or `;` outside quotes and angle brackets. */
function splitList(text: string): string[] {
  const items: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle = true;
    else if (!quoted && c === '>') angle = false;
    else if (!quoted && !angle && (c === ',' || c === ';')) {
      items.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  items.push(current);
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Parses `a@x.org`, `Ann <a@x.org>`, `"Doe, Ann" <a@x.org>` and comma-separated lists of them.
 * Returns the mailboxes, or the first item that is not an address.
 */
export function parseAddressList(text: string): { mailboxes: Mailbox[] } | { invalid: string } {
  const mailboxes: Mailbox[] = [];
  for (const item of splitList(text)) {
    const angle = /^(.*?)<([^<>]*)>$/s.exec(item);
    let name = '';
    let address = item;
    if (angle) {
      name = angle[1]!.trim();
      if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
      address = angle[2]!.trim();
    }
    if (!isAddress(address) || /[\r\n]/.test(name)) return { invalid: item };
    mailboxes.push({ name, address });
  }
  return { mailboxes };
}

/** A short, quoted rendering of a value for an error message. */
export function shown(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}
