import { describe, expect, it } from 'vitest';
import { splitName } from './split-name.ts';

describe('splitName', () => {
  it('splits a given name from a family name', () => {
    expect(splitName('John Smith')).toEqual({ given: 'John', family: 'Smith' });
  });

  it('reads "Family, Given"', () => {
    expect(splitName('Smith, John')).toEqual({ given: 'John', family: 'Smith' });
    expect(splitName('van der Berg, Jan')).toEqual({ given: 'Jan', family: 'van der Berg' });
  });

  it('keeps middle names and initials with the given name and drops titles', () => {
    expect(splitName('Dr. John A. Smith III')).toEqual({ given: 'John A.', family: 'Smith', suffix: 'iii' });
    expect(splitName('Smith, Mrs Jane Mary')).toEqual({ given: 'Jane Mary', family: 'Smith' });
  });

  it('normalises the suffixes Jr, Sr, II, III and IV, wherever the comma is', () => {
    expect(splitName('John Smith Jr.')).toEqual({ given: 'John', family: 'Smith', suffix: 'jr' });
    expect(splitName('John Smith, SR')).toEqual({ given: 'John', family: 'Smith', suffix: 'sr' });
    expect(splitName('Smith, John, Jr.')).toEqual({ given: 'John', family: 'Smith', suffix: 'jr' });
    expect(splitName('Smith, John II')).toEqual({ given: 'John', family: 'Smith', suffix: 'ii' });
    expect(splitName('Henry Ford IV')).toEqual({ given: 'Henry', family: 'Ford', suffix: 'iv' });
  });

  it('keeps particles such as "van der" and "de la" with the family name', () => {
    expect(splitName('Ludwig van Beethoven')).toEqual({ given: 'Ludwig', family: 'van Beethoven' });
    expect(splitName('Jan van der Berg')).toEqual({ given: 'Jan', family: 'van der Berg' });
    expect(splitName('María José de la Cruz')).toEqual({ given: 'María José', family: 'de la Cruz' });
  });

  it('never takes the first word for a particle', () => {
    expect(splitName('Van Morrison')).toEqual({ given: 'Van', family: 'Morrison' });
  });

  it('takes a single word for the given name', () => {
    expect(splitName('Cher')).toEqual({ given: 'Cher' });
    expect(splitName('  Dr.   Cher ')).toEqual({ given: 'Cher' });
  });

  it('returns undefined for blanks and non-strings', () => {
    for (const value of [undefined, null, '', '   ', 42, ['John', 'Smith']]) expect(splitName(value)).toBeUndefined();
  });
});
