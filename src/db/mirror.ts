import { log } from "../lib/log";

// While an org's rows wait out the caches on the shard it just left (SPEC 14: the old
// rows go only after every cache has expired), a reader whose cache still names the old
// shard must not read a timeline frozen at the move. So OrgInbox, the writer of that
// timeline, writes through this: every statement answers from the new shard, and each
// write is then repeated on the old one in a batch that lifts the org's fence there and
// puts it back (one transaction: no other writer sees it lifted). A repeat that fails is
// logged and dropped: the old copy is only for stale readers, the new shard is the truth.

/** The org's fence in the old shard, as the move set it. */
export type Fence = { orgId: string; moveId: string; since: number };

const isRead = (query: string) => /^\s*select\b/i.test(query);

class Mirrored {
  constructor(
    readonly primary: D1Database,
    readonly mirror: D1Database,
    readonly fence: Fence,
  ) {}

  prepare(query: string) {
    return new MirroredStatement(this, this.primary.prepare(query), this.mirror.prepare(query), !isRead(query));
  }

  async batch<T>(statements: MirroredStatement[]): Promise<D1Result<T>[]> {
    const results = await this.primary.batch<T>(statements.map((s) => s.primary));
    await this.repeat(statements.filter((s) => s.write).map((s) => s.mirror));
    return results;
  }

  exec(query: string) {
    return this.primary.exec(query);
  }

  dump() {
    return this.primary.dump();
  }

  withSession(constraintOrBookmark?: string) {
    return this.primary.withSession(constraintOrBookmark);
  }

  async repeat(writes: D1PreparedStatement[]) {
    if (!writes.length) return;
    const { orgId, moveId, since } = this.fence;
    try {
      await this.mirror.batch([
        this.mirror.prepare("DELETE FROM org_fences WHERE org_id = ?").bind(orgId),
        ...writes,
        this.mirror.prepare("INSERT INTO org_fences (org_id, move_id, state, created_at) VALUES (?, ?, 'moved', ?)").bind(orgId, moveId, since),
      ]);
    } catch (e) {
      log("error", "move_mirror_failed", { org_id: orgId, move_id: moveId, error: String(e) });
    }
  }
}

class MirroredStatement {
  constructor(
    private readonly db: Mirrored,
    readonly primary: D1PreparedStatement,
    readonly mirror: D1PreparedStatement,
    readonly write: boolean,
  ) {}

  bind(...values: unknown[]) {
    return new MirroredStatement(this.db, this.primary.bind(...values), this.mirror.bind(...values), this.write);
  }

  private async settle<R>(answer: Promise<R>): Promise<R> {
    const result = await answer;
    if (this.write) await this.db.repeat([this.mirror]);
    return result;
  }

  first(column?: string) {
    return this.settle(column === undefined ? this.primary.first() : this.primary.first(column));
  }

  all() {
    return this.settle(this.primary.all());
  }

  run() {
    return this.settle(this.primary.run());
  }

  raw(options?: { columnNames?: boolean }) {
    return this.settle(options?.columnNames ? this.primary.raw({ columnNames: true }) : this.primary.raw());
  }
}

/** `primary` as a D1Database whose writes are repeated on `mirror` (see above). */
export const mirrored = (primary: D1Database, mirror: D1Database, fence: Fence): D1Database => new Mirrored(primary, mirror, fence) as unknown as D1Database;
