// A queue fair between groups (namespaces): one FIFO per group, served round-robin, so a group that queues a
// thousand items delays another group's next item by at most one of its own.

/** A FIFO with O(1) push and shift. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++] as T;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes the first occurrence of `item`; O(n). */
  remove(item: T): boolean {
    const i = this.#items.indexOf(item, this.#head);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  values(): T[] {
    return this.#items.slice(this.#head);
  }
}

/**
 * Items in groups; {@link shift} serves the groups in turn (round-robin), each group's items in the order they were
 * pushed. A group joins the end of the round when its first item arrives. Bound: an item pushed when its group has
 * nothing waiting is handed out before any other group gets a second item (at most one item per other group comes
 * first), however many those groups queue.
 */
export class FairQueue<T> {
  readonly #groups = new Map<string, Fifo<T>>();
  /** Groups with items, in the order they are served next. */
  readonly #round = new Fifo<string>();
  #size = 0;

  /** Items waiting, over all groups. */
  get size(): number {
    return this.#size;
  }

  /** Items waiting in `group`. */
  sizeOf(group: string): number {
    return this.#groups.get(group)?.length ?? 0;
  }

  /** Groups with items waiting. */
  groups(): string[] {
    return [...this.#groups.keys()];
  }

  /** The items of `group`, oldest first. */
  itemsOf(group: string): T[] {
    return this.#groups.get(group)?.values() ?? [];
  }

  push(group: string, item: T): void {
    let fifo = this.#groups.get(group);
    if (!fifo) {
      fifo = new Fifo<T>();
      this.#groups.set(group, fifo);
      this.#round.push(group);
    }
    fifo.push(item);
    this.#size++;
  }

  /**
   * The next item: the oldest of the next group in the round whose turn `eligible` allows (a group refused keeps
   * its items and moves to the end of the round). Undefined when empty or no group is eligible.
   */
  shift(eligible: (group: string) => boolean = () => true): T | undefined {
    for (let tries = this.#round.length; tries > 0; tries--) {
      const group = this.#round.shift() as string;
      const fifo = this.#groups.get(group) as Fifo<T>;
      if (!eligible(group)) {
        this.#round.push(group);
        continue;
      }
      const item = fifo.shift() as T;
      this.#size--;
      if (fifo.length > 0) this.#round.push(group);
      else this.#groups.delete(group);
      return item;
    }
    return undefined;
  }

  /** Removes `item` from `group`; true when it was there. */
  remove(group: string, item: T): boolean {
    const fifo = this.#groups.get(group);
    if (!fifo?.remove(item)) return false;
    this.#size--;
    if (fifo.length === 0) this.#forget(group);
    return true;
  }

  /** Removes and returns the oldest item of `group`. */
  shiftFrom(group: string): T | undefined {
    const fifo = this.#groups.get(group);
    const item = fifo?.shift();
    if (item === undefined) return undefined;
    this.#size--;
    if (fifo?.length === 0) this.#forget(group);
    return item;
  }

  /** A group without items leaves the round (O(groups)), so it rejoins at the end when items come again. */
  #forget(group: string): void {
    this.#groups.delete(group);
    this.#round.remove(group);
  }

  /** Removes everything, returning it (oldest first per group). */
  clear(): T[] {
    const all = [...this.#groups.values()].flatMap((f) => f.values());
    this.#groups.clear();
    while (this.#round.shift() !== undefined) {}
    this.#size = 0;
    return all;
  }
}
