// Every table, from the file of the database that holds it: src/db/control.ts (DB),
// src/db/shard.ts (each SHARD_n), src/db/unroutable.ts (both). Which database a query
// runs on is src/db/shards.ts's business; the tables themselves are not bound to one.
import type { channelRoutes, members, orgs } from "./control";
import type { activities, channels, contacts, conversations, media, slaConfigs, trainingPairs, views } from "./shard";
import type { unroutableEvents } from "./unroutable";

export * from "./control";
export * from "./shard";
export * from "./unroutable";

export type Org = typeof orgs.$inferSelect;
export type ChannelRoute = typeof channelRoutes.$inferSelect;
export type Member = typeof members.$inferSelect;
export type Contact = typeof contacts.$inferSelect;
export type Channel = typeof channels.$inferSelect;
export type Conversation = typeof conversations.$inferSelect;
export type Activity = typeof activities.$inferSelect;
export type View = typeof views.$inferSelect;
export type SlaConfig = typeof slaConfigs.$inferSelect;
export type Media = typeof media.$inferSelect;
export type TrainingPair = typeof trainingPairs.$inferSelect;
export type UnroutableEvent = typeof unroutableEvents.$inferSelect;
export type Role = Member["role"];
