/**
 * The fields of one CSV record (RFC 4180: `,` between fields, `"` around a field that holds `,`, `"`
 * or a newline, `""` for a quote inside it), whitespace around fields trimmed. `splitRecords` has
 * already cut the file into records, so a malformed record is refused alone instead of ending the
 * file the way a streaming parser's error does.
 */
export function csvFields(text: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t';
  for (;;) {
    while (i < n && isSpace(text[i])) i++;
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        // The splitter ends a record only outside quotes, so this is a quote it paired differently.
        if (close === -1) return undefined;
        value += text.slice(i, close);
        if (text[close + 1] === '"') {
          value += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      while (i < n && isSpace(text[i])) i++;
      fields.push(value);
      if (i === n) return fields;
      if (text[i] !== ',') return undefined;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? n : comma;
      const value = text.slice(i, end).trim();
      // A quote inside an unquoted field: the record's bounds are in doubt, so it is refused.
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}
