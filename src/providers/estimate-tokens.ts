// A rough token count (about four characters per token) for servers and CLIs that report none,
// so budgets and cost accounting still see a plausible number instead of zero.

export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}
