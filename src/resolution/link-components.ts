/** How a component of a linking batch is checked before a union. */
interface Checks {
  /** The features of fragment i. */
  featuresOf(i: number): string[][] | undefined;
  /** Whether two records, by their features, cannot link. */
  cannotLink(a: string[][], b: string[][]): boolean;
  /** Whether scoring found fragment i unable to link with a record that profile holds. */
  vetoed(i: number, profile: string): boolean;
}

/** What a component of a linking batch holds: its fragments, the profiles it joins, and what was compared. */
interface Members {
  fragments: number[];
  profiles: string[];
  /** The features of its fragments and of the stored records through which it joined profiles. */
  features: string[][][];
}

/**
 * Union-find over a linking batch's fragments (`f<i>`) and the profiles they join (`p<id>`), which
 * refuses a probabilistic union that would put two records that cannot link (identity.yaml
 * `cannotLink`) into one component. Links taken strongest first, as batch clustering takes them,
 * keep a household that arrives in one batch apart: a thin record (a surname and the household's
 * email) that matches John and Jane joins one of them, and the other link is refused.
 */
export class LinkComponents {
  readonly #parent = new Map<string, string>();
  readonly #members = new Map<string, Members>();

  readonly #check: Checks;

  constructor(check: Checks) {
    this.#check = check;
  }

  find(x: string): string {
    let root = x;
    while (this.#parent.has(root) && this.#parent.get(root) !== root) root = this.#parent.get(root) as string;
    this.#parent.set(x, root);
    return root;
  }

  /** Joins `a` and `b` whatever they hold: a deterministic rule, or a record's own profile. */
  union(a: string, b: string): void {
    this.#join(this.find(a), this.find(b), []);
  }

  /**
   * Joins `a` and `b` unless a record of one cannot link with a record of the other; `through` is
   * the stored record's features a fragment matched a profile by. Returns whether it joined them.
   */
  tryUnion(a: string, b: string, through: string[][] | undefined = undefined): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return true;
    const ma = this.#membersOf(ra);
    const mb = this.#membersOf(rb);
    const extra = through ? [through] : [];
    const vetoedAcross = (x: Members, y: Members) => x.fragments.some((i) => y.profiles.some((p) => this.#check.vetoed(i, p)));
    if (vetoedAcross(ma, mb) || vetoedAcross(mb, ma)) return false;
    for (const fa of ma.features) {
      for (const fb of [...mb.features, ...extra]) if (fa !== fb && this.#check.cannotLink(fa, fb)) return false;
    }
    this.#join(ra, rb, extra);
    return true;
  }

  #membersOf(root: string): Members {
    let members = this.#members.get(root);
    if (!members) {
      const id = root.slice(1);
      const features = root.startsWith('f') ? this.#check.featuresOf(Number(id)) : undefined;
      members = root.startsWith('f')
        ? { fragments: [Number(id)], profiles: [], features: features ? [features] : [] }
        : { fragments: [], profiles: [id], features: [] };
      this.#members.set(root, members);
    }
    return members;
  }

  #join(ra: string, rb: string, extra: string[][][]): void {
    if (ra === rb) return;
    const ma = this.#membersOf(ra);
    const mb = this.#membersOf(rb);
    // The smaller list goes into the larger, so a large component is never copied.
    const [into, from, intoRoot, fromRoot] = ma.features.length > mb.features.length ? [ma, mb, ra, rb] : [mb, ma, rb, ra];
    this.#parent.set(fromRoot, intoRoot);
    this.#members.delete(fromRoot);
    into.fragments.push(...from.fragments);
    into.profiles.push(...from.profiles);
    into.features.push(...from.features, ...extra);
  }
}
