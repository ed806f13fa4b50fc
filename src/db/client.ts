import { drizzle } from "drizzle-orm/d1";
import type { Bindings } from "../env";

export const db = (env: Pick<Bindings, "DB">) => drizzle(env.DB);
export type Db = ReturnType<typeof db>;
