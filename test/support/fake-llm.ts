// The fake LLM server for TypeScript tests: the implementation lives in plain JavaScript
// (fake-llm-core.mjs) so the standalone fake-llm-main.mjs can run it without a compile step.

export {
  createRuleResponder,
  echoResponder,
  estimateTokens,
  parseRules,
  startFakeLlm,
} from './fake-llm-core.mjs';
export type {
  FakeFormat,
  FakeLlm,
  FakeLlmOptions,
  FakeMessage,
  FakeReply,
  FakeReplyKind,
  FakeRequest,
  FakeResponder,
  FakeRule,
  FakeTextReply,
  FakeTool,
  FakeToolCall,
} from './fake-llm-core.mjs';
