import { log } from "../lib/log";

export type EventType = "message.created" | "message.updated" | "conversation.updated" | "suggestion.created" | "contact.opted_out" | "contact.opted_in";
/** `conversation_id` is null only for a consent change of a contact with no conversation. */
export type InboxEvent = { type: EventType; conversation_id: string | null; data: unknown };
export type SocketAttachment = { userId: string; role: string };

/** SPEC 13: at least the last 1,000 events stay replayable. */
export const REPLAY_BUFFER = 1_000;
/** Sockets one org may hold open at once (each member's tabs and devices). */
export const MAX_SOCKETS_PER_ORG = 500;
/** After the last socket closes, events keep being buffered this long for a reconnect. */
export const RESUME_WINDOW_MS = 10 * 60_000;

/**
 * The org's event stream inside its OrgInbox: a per-org sequence and a bounded
 * replay buffer in the object's own SQLite storage, and the hibernatable sockets.
 *
 * Building an event's REST-shaped data can cost a D1 read, so the object only
 * builds them while someone listens or might resume (a socket is open, or one
 * closed less than RESUME_WINDOW_MS ago). Every write still takes a `seq`, so a
 * client resuming across a stretch nobody listened to sees the gap and refetches.
 */
export class EventHub {
  constructor(private readonly ctx: DurableObjectState) {
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private meta(key: string): number {
    const row = this.ctx.storage.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0];
    return row?.value ?? 0;
  }

  private setMeta(key: string, value: number) {
    this.ctx.storage.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value);
  }

  latest() {
    return this.meta("seq");
  }

  sockets() {
    return this.ctx.getWebSockets();
  }

  /** Whether event data is worth building now. */
  listening(now = Date.now()) {
    return this.sockets().length > 0 || now - this.meta("last_socket_at") < RESUME_WINDOW_MS;
  }

  /** Takes `n` sequence numbers for writes nobody is listening to (their events are not kept). */
  skip(n: number) {
    if (n > 0) this.setMeta("seq", this.latest() + n);
  }

  /**
   * Takes `n` numbers of the org's webhook sequence (SPEC 18 `data.seq`; every event type,
   * unlike the socket `seq`), and answers the first. Stored before the write that uses them
   * goes out, so a crash leaves a gap, never a number used twice.
   */
  takeHookSeq(n: number) {
    const first = this.meta("hook_seq") + 1;
    this.setMeta("hook_seq", first + n - 1);
    return first;
  }

  /** Numbers, buffers and sends events, in order, to every socket of the org. */
  publish(events: InboxEvent[], now = Date.now()) {
    if (!events.length) return;
    let seq = this.latest();
    const lines: string[] = [];
    for (const e of events) {
      seq += 1;
      const line = JSON.stringify({ seq, type: e.type, conversation_id: e.conversation_id, data: e.data, at: new Date(now).toISOString() });
      this.ctx.storage.sql.exec(`INSERT INTO events (seq, body) VALUES (?, ?)`, seq, line);
      lines.push(line);
    }
    this.setMeta("seq", seq);
    this.ctx.storage.sql.exec(`DELETE FROM events WHERE seq <= ?`, seq - REPLAY_BUFFER);
    for (const ws of this.sockets()) {
      for (const line of lines) {
        try {
          ws.send(line);
        } catch (e) {
          log("warn", "event_send_failed", { error: String(e) });
        }
      }
    }
  }

  /** `?since=`: the buffered events after it, or a resync when some are gone. */
  replay(ws: WebSocket, since: number) {
    const latest = this.latest();
    if (since >= latest) return;
    const rows = this.ctx.storage.sql.exec<{ seq: number; body: string }>(`SELECT seq, body FROM events WHERE seq > ? ORDER BY seq`, since).toArray();
    if (rows.length !== latest - since) {
      ws.send(JSON.stringify({ type: "resync", seq: latest }));
      return;
    }
    for (const r of rows) ws.send(r.body);
  }

  /** Accepts an upgraded socket for a member (hibernation API; the attachment survives eviction). */
  accept(who: SocketAttachment, since: number | null): Response {
    if (this.sockets().length >= MAX_SOCKETS_PER_ORG) return new Response(null, { status: 429 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [`user:${who.userId}`]);
    server.serializeAttachment(who);
    this.setMeta("last_socket_at", Date.now());
    server.send(JSON.stringify({ type: "hello", seq: this.latest() }));
    if (since !== null) this.replay(server, since);
    return new Response(null, { status: 101, webSocket: client });
  }

  closed() {
    this.setMeta("last_socket_at", Date.now());
  }

  /** A removed member's sockets close at once. */
  disconnect(userId: string) {
    for (const ws of this.ctx.getWebSockets(`user:${userId}`)) ws.close(4003, "no longer a member");
  }
}
