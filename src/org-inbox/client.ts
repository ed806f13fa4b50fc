import type { Db } from "../db/client";
import { isFenced, rememberShard, shardByName } from "../db/shards";
import type { Bindings } from "../env";
import { ApiError } from "../lib/errors";
import type { InboxAnswer, OrgInbox } from "./org-inbox";

/** The org's OrgInbox stub, for what is not an org-scoped write: the event socket, the API window. */
export function orgInbox(env: Pick<Bindings, "ORG_INBOX">, orgId: string) {
  return env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
}

/** OrgInbox's RPC methods: each takes the org first and answers a value or a refusal ({ error }, as data across RPC). */
type Methods = {
  [K in keyof OrgInbox as [OrgInbox[K]] extends [never]
    ? never
    : OrgInbox[K] extends (orgId: string, ...rest: never[]) => Promise<InboxAnswer<unknown>>
      ? K
      : never]: OrgInbox[K];
};
type Args<F> = F extends (orgId: string, ...rest: infer A) => unknown ? A : never;
type Ok<F> = F extends (...args: never[]) => Promise<InboxAnswer<infer T>> ? T : never;

/**
 * The org's OrgInbox, its methods bound to the org: a refusal is thrown as the ApiError it
 * was (one place turns the data back into the error); `answer` has the same methods and
 * hands the refusal back as data, for a caller that keeps it (a webhook's unroutable event).
 */
export type InboxClient = { [K in keyof Methods]: (...args: Args<Methods[K]>) => Promise<Ok<Methods[K]>> } & {
  answer: { [K in keyof Methods]: (...args: Args<Methods[K]>) => Promise<InboxAnswer<Ok<Methods[K]>>> };
};

// Every method, named once at run time (the type checker keeps this list whole).
const METHODS: Record<keyof Methods, true> = {
  ingest: true,
  createSuggestion: true,
  dismissSuggestion: true,
  sendSuggestion: true,
  cancelMessage: true,
  touchMessage: true,
  setCallSummary: true,
  applyCallDetails: true,
  claimSend: true,
  settleSend: true,
  applyTwilioStatus: true,
  applyPostmarkEvent: true,
  settleStuckSend: true,
  changeState: true,
  snooze: true,
  unsnooze: true,
  setLabels: true,
  removeLabel: true,
  bulk: true,
  sendMessage: true,
  replaceSla: true,
  removeMember: true,
  replaceViews: true,
  createContact: true,
  updateContact: true,
  openConversation: true,
  shardName: true,
  startMove: true,
  benchCeiling: true,
  forgetSubscriptions: true,
  setConsentByAddress: true,
};

function unwrap<T>(answer: InboxAnswer<T>): T {
  if ("error" in answer) throw new ApiError(answer.error.code, answer.error.detail, answer.error.errors, answer.error.headers);
  return answer.ok;
}

type Stub = Record<string, (orgId: string, ...args: unknown[]) => Promise<InboxAnswer<unknown>>>;

// The methods live on two prototypes made once, not as closures made per call (making them
// per request was about 1.5 % of an ingest's CPU).
class Answers {
  constructor(
    readonly stub: Stub,
    readonly orgId: string,
  ) {}
}
class Client {
  readonly answer: Answers;
  constructor(
    readonly stub: Stub,
    readonly orgId: string,
  ) {
    this.answer = new Answers(stub, orgId);
  }
}
for (const name of Object.keys(METHODS)) {
  Object.defineProperty(Answers.prototype, name, {
    value(this: Answers, ...args: unknown[]) {
      return this.stub[name](this.orgId, ...args);
    },
  });
  Object.defineProperty(Client.prototype, name, {
    async value(this: Client, ...args: unknown[]) {
      return unwrap(await this.stub[name](this.orgId, ...args));
    },
  });
}

export function inbox(env: Pick<Bindings, "ORG_INBOX">, orgId: string): InboxClient {
  return new Client(orgInbox(env, orgId) as unknown as Stub, orgId) as unknown as InboxClient;
}

/**
 * A write of the org's rows by a caller other than OrgInbox (an upload, a config, an
 * idempotency record, a webhook's record), on the shard its cache named. If the org is
 * moving off that shard, or has left it, the shard's fence refuses the write (SPEC 14);
 * then this asks the org's OrgInbox where the org is once the move is over (the answer
 * waits for it, as OrgInbox's own writes do) and writes there. `write` must be one
 * statement or one batch, so a refused attempt left nothing behind.
 */
export async function inOrgShard<T>(env: Bindings, orgId: string, db: Db, write: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await write(db);
  } catch (e) {
    if (!isFenced(e)) throw e;
    const name = await inbox(env, orgId).shardName();
    rememberShard(orgId, name);
    return write(shardByName(env, name));
  }
}
