#!/usr/bin/env node
// Runs the fake LLM server as its own process (crash tests, benchmarks): `node test/support/fake-llm-main.mjs [port]`.
// Prints one JSON line {"url","port"} when listening; GET /_log returns the request log.
//
// Environment:
//   FAKE_LLM_PORT   port when no argument is given (default 0: a free port)
//   FAKE_LLM_HOST   listen address (default 127.0.0.1)
//   FAKE_LLM_RULES  path to a JSON file: [{"match": "substring", "reply": FakeReply}, ...]
//                   The first rule whose match occurs in the system prompt or the last user
//                   message decides the reply, e.g. {"match": "validator", "reply": {"text": "ok"}}
//                   or {"match": "flaky", "reply": {"status": 429, "retryAfterSeconds": 1}};
//                   other requests get an instant echo answer.

import { readFileSync } from 'node:fs';
import process from 'node:process';
import { createRuleResponder, parseRules, startFakeLlm } from './fake-llm-core.mjs';

const port = Number(process.argv[2] ?? process.env.FAKE_LLM_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`fake-llm: invalid port ${process.argv[2] ?? process.env.FAKE_LLM_PORT}\n`);
  process.exit(2);
}

const rulesPath = process.env.FAKE_LLM_RULES;
const rules = rulesPath ? parseRules(JSON.parse(readFileSync(rulesPath, 'utf8'))) : [];

const server = await startFakeLlm({
  port,
  host: process.env.FAKE_LLM_HOST || '127.0.0.1',
  responder: createRuleResponder(rules),
  exposeLog: true,
});
process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port })}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
