import { log } from "../lib/log";

/** A secret or setting that cannot be used as given: what is wrong and what refuses or falls back because of it (/health). */
export type ConfigProblem = {
  setting: string;
  issue: "missing" | "too_short" | "invalid" | "out_of_range";
  effect: string;
};

// Logged once per isolate per problem: enough to find in the logs, never a flood.
const logged = new Set<string>();

/** The one `config_problem` log line of a problem (secrets, settings, shards), with how to fix it. */
export function reportConfigProblem(problem: ConfigProblem, hint: string) {
  const key = `${problem.setting}:${problem.issue}:${problem.effect}`;
  if (logged.has(key)) return;
  logged.add(key);
  log("error", "config_problem", { setting: problem.setting, issue: problem.issue, effect: problem.effect, hint });
}
