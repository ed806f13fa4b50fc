import { configProblems } from "../config/secrets";
import { settingsProblems } from "../config/settings";
import { shardProblems } from "../db/shards";
import type { AppRouteHandler } from "../env";
import type * as routes from "./system.routes";

/** Always 200 while the Worker answers; degraded with the problems when a secret or a setting is unusable. */
export const health: AppRouteHandler<typeof routes.health> = (c) => {
  const problems = [...configProblems(c.env), ...settingsProblems(c.env), ...shardProblems(c.env)];
  const time = new Date().toISOString();
  return c.json(problems.length ? { status: "degraded" as const, time, problems } : { status: "ok" as const, time }, 200);
};
