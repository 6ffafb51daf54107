/**
 * Clustering of scored pairs: union-find over records, and links taken strongest first under a
 * cannot-link rule, in typed arrays so that a million records' pairs fit.
 */

export class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root] as number;
    while (this.parent[x] !== root) {
      const next = this.parent[x] as number;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }
  /** The smaller index becomes the root, so a cluster is named by its first record. */
  union(a: number, b: number): void {
    const x = this.find(a);
    const y = this.find(b);
    if (x < y) this.parent[y] = x;
    else if (y < x) this.parent[x] = y;
  }
}

/** Pairs of record indices in typed arrays: millions of them fit where objects would not. */
export class PairList {
  a = new Int32Array(1024);
  b = new Int32Array(1024);
  count = 0;
  push(x: number, y: number): void {
    if (this.count === this.a.length) {
      const grow = (old: Int32Array) => {
        const next = new Int32Array(old.length * 2);
        next.set(old);
        return next;
      };
      this.a = grow(this.a);
      this.b = grow(this.b);
    }
    this.a[this.count] = x;
    this.b[this.count] = y;
    this.count++;
  }
}

/**
 * Clusters by links, strongest first, on top of what `uf` already joined (deterministic links). A
 * link that would put two records of `apart` (scored far apart by the model) into one cluster is
 * left out, so one false link cannot chain two people's records together. Returns how many links
 * were taken.
 *
 * Each cluster keeps a list of its members; a union scans the smaller cluster's members' `apart`
 * partners for one in the other cluster, so a record is scanned O(log n) times.
 */
export function clusterLinks(uf: UnionFind, positive: { a: number; b: number; weight: number }[], apart: PairList): number {
  const n = uf.parent.length;
  // Partners of each record, as adjacency in compressed rows.
  const offsets = new Int32Array(n + 1);
  for (let k = 0; k < apart.count; k++) {
    const x = (apart.a[k] as number) + 1;
    const y = (apart.b[k] as number) + 1;
    offsets[x] = (offsets[x] as number) + 1;
    offsets[y] = (offsets[y] as number) + 1;
  }
  for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i + 1] as number) + (offsets[i] as number);
  const partners = new Int32Array(apart.count * 2);
  const fill = offsets.slice(0, n);
  for (let k = 0; k < apart.count; k++) {
    const x = apart.a[k] as number;
    const y = apart.b[k] as number;
    partners[fill[x] as number] = y;
    fill[x] = (fill[x] as number) + 1;
    partners[fill[y] as number] = x;
    fill[y] = (fill[y] as number) + 1;
  }
  // Member lists per root, starting from the clusters `uf` already holds.
  const next = new Int32Array(n).fill(-1);
  const head = new Int32Array(n).fill(-1);
  const tail = new Int32Array(n).fill(-1);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const root = uf.find(i);
    if (head[root] === -1) head[root] = i;
    else next[tail[root] as number] = i;
    tail[root] = i;
    size[root] = (size[root] as number) + 1;
  }
  const conflicts = (small: number, other: number) => {
    for (let m = head[small] as number; m !== -1; m = next[m] as number) {
      for (let p = offsets[m] as number; p < (offsets[m + 1] as number); p++) {
        if (uf.find(partners[p] as number) === other) return true;
      }
    }
    return false;
  };

  positive.sort((x, y) => y.weight - x.weight);
  let taken = 0;
  for (const { a, b } of positive) {
    const ra = uf.find(a);
    const rb = uf.find(b);
    if (ra === rb) continue;
    const [small, large] = (size[ra] as number) <= (size[rb] as number) ? [ra, rb] : [rb, ra];
    if (conflicts(small, large)) continue;
    uf.union(a, b);
    taken++;
    const root = uf.find(a);
    const other = root === ra ? rb : ra;
    next[tail[root] as number] = head[other] as number;
    tail[root] = tail[other] as number;
    size[root] = (size[root] as number) + (size[other] as number);
  }
  return taken;
}
