import type { ChatMessage } from "./generator";

export type ThreadLine = { role: "contact" | "agent"; type: "sms" | "email" | "call"; text: string };

/** Chat turns must alternate for several models: consecutive lines of one side are joined. */
function turns(lines: ThreadLine[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const l of lines) {
    const role = l.role === "contact" ? "user" : "assistant";
    const text = l.type === "call" ? `[phone call] ${l.text}` : l.text;
    const last = out[out.length - 1];
    if (last && last.role === role) last.content += `\n${text}`;
    else out.push({ role, content: text });
  }
  return out;
}

/** A saved reply (SPEC 17 template) rendered for this contact, shown to the model as an example. */
export type ReplyExample = { name: string; text: string };
/** At most this much of each example goes into the prompt. */
export const EXAMPLE_MAX_CHARS = 500;

/** The setter's prompt: the org's instructions and saved replies, then the thread as chat turns, contact last. */
export function draftPrompt(opts: {
  orgName: string;
  instructions: string | null;
  channel: "sms" | "email";
  thread: ThreadLine[];
  examples?: ReplyExample[];
}): ChatMessage[] {
  const examples = (opts.examples ?? []).filter((e) => e.text.trim());
  const system = [
    `You draft replies for ${opts.orgName}, writing to a contact in a shared inbox.`,
    `Write the next ${opts.channel === "sms" ? "SMS" : "email"} reply from ${opts.orgName} to the contact.`,
    "Answer with the message text only: no preamble, no quotes, no placeholders.",
    opts.channel === "sms" ? "Keep it short: under 320 characters." : "Keep it to a few short paragraphs; no subject line.",
    opts.instructions?.trim() ? `Instructions from ${opts.orgName}:\n${opts.instructions.trim()}` : "",
    examples.length
      ? `Saved replies ${opts.orgName} uses (examples of its tone and facts: adapt one when it fits, never copy one that does not):\n${examples
          .map((e) => `- ${e.name}: ${e.text.trim().slice(0, EXAMPLE_MAX_CHARS)}`)
          .join("\n")}`
      : "",
  ]
    .filter(Boolean)
    .join("\n");
  return [{ role: "system", content: system }, ...turns(opts.thread)];
}

export function summaryPrompt(transcript: string): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "Summarize this phone call for a CRM timeline in at most 3 sentences and 400 characters: who called, why, and any follow-up (times, dates, amounts). Answer with the summary only.",
    },
    { role: "user", content: transcript },
  ];
}
