import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { withPlainPath } from './plain-expression.ts';

const inputs: unknown[] = [
  { id: 7, first_name: 'Ann', last_name: 'Lee', email: 'ann@example.org', address: { street: '1 High St', town: 'Leeds' } },
  { id: '8', first_name: '', email: null, address: null },
  { id: 9, address: 'not an object', email: 0, flag: false },
  { id: 10, address: { street: ['1 High St', '2 Low St'] }, email: ['a@x.org', 'b@x.org'] },
  { id: 11, address: [{ street: 'a' }, { street: 'b' }], email: [] },
  { id: 12, constructor: 'own', toString: 'own too', address: { town: { nested: true } } },
  { first_name: 'no id' },
  { id: 13, _jsonata_function: true, address: { _jsonata_lambda: true, street: 'hidden' } },
  { id: 14, address: { _jsonata_function: true, street: 'hidden too' } },
  [{ id: 1, first_name: 'in an array' }],
  'a string',
  42,
  null,
];

/** A deep copy into plain objects and arrays: JSONata's objects have a prototype of their own. */
const copy = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(copy)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]))
      : value;

const plainExpressions = [
  'id',
  'address.street',
  'address.town',
  'constructor',
  'toString',
  '{"name": {"given": first_name, "family": last_name}, "emails": [email], "street": address.street}',
  '{"a": [first_name, last_name, [email]], "b": "literal", "n": 3, "t": true, "z": null}',
  '[]',
  '{}',
  '[{"x": id}, {"y": nothing}]',
];

describe('plain reshaping evaluated without JSONata', () => {
  it.each(plainExpressions)('gives what JSONata gives for %s, on every kind of input', async (text) => {
    const compiled = jsonata(text);
    const fast = withPlainPath(compiled);
    expect(fast).not.toBe(compiled);
    for (const input of inputs) {
      const expected = await jsonata(text).evaluate(input);
      expect({ input, result: copy(await fast.evaluate(input)) }).toStrictEqual({ input, result: copy(expected) });
    }
  });

  it.each([
    '$split(full_name, " ")[0]',
    'first_name & " " & last_name',
    'address[0].street',
    'address.street[0]',
    '{"k": id}.k',
    '{first_name: id}',
    '{"a": id, "a": first_name}',
    '{"a"[false]: id}',
    '{"a"{"x": 1}: id}',
    '{"p": {"__proto__": id}}',
    '{"_jsonata_function": id}',
    '{"_jsonata_lambda": id}',
    'id ? id : 0',
    '$',
    '(id)',
  ])('leaves %s to JSONata', (text) => {
    const compiled = jsonata(text);
    expect(withPlainPath(compiled)).toBe(compiled);
  });

  it('passes the bindings on when JSONata evaluates', async () => {
    const compiled = jsonata('{"s": $source, "street": address.street}');
    expect(await withPlainPath(compiled).evaluate({ address: { street: 'x' } }, { source: 'crm' })).toEqual({ s: 'crm', street: 'x' });
  });
});
