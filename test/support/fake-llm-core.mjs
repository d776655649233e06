// A loopback fake LLM server that speaks the Anthropic Messages and OpenAI Chat Completions wire
// formats (JSON and SSE), scriptable per request and logging what reached it. Plain ESM JavaScript
// (types in fake-llm-core.d.mts) so that fake-llm-main.mjs can run it in a separate bare `node`.

import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

/** @typedef {import('./fake-llm-core.d.mts').FakeRequest} FakeRequest */
/** @typedef {import('./fake-llm-core.d.mts').FakeReply} FakeReply */
/** @typedef {import('./fake-llm-core.d.mts').FakeTextReply} FakeTextReply */
/** @typedef {import('./fake-llm-core.d.mts').FakeMessage} FakeMessage */
/** @typedef {import('./fake-llm-core.d.mts').FakeResponder} FakeResponder */
/** @typedef {import('./fake-llm-core.d.mts').FakeLlmOptions} FakeLlmOptions */
/** @typedef {import('./fake-llm-core.d.mts').FakeLlm} FakeLlm */
/** @typedef {import('./fake-llm-core.d.mts').FakeRule} FakeRule */
/** @typedef {import('node:http').ServerResponse} ServerResponse */

/**
 * A token count shaped like real tokenizers': about four ASCII characters per token, but other
 * scripts (CJK, emoji, ...) at more than one token per character, so a budget estimated by
 * characters undercounts them as it does against a real API.
 * @param {string} text
 */
export function estimateTokens(text) {
  let ascii = 0;
  let other = 0;
  for (const ch of text) {
    if ((ch.codePointAt(0) ?? 0) < 128) ascii++;
    else other++;
  }
  return Math.max(1, Math.ceil(ascii / 4 + other * 1.3));
}

/**
 * The longest start of `text` within `limit` tokens (what a real API returns at max_tokens).
 * @param {string} text
 * @param {number} limit
 */
function truncateToTokens(text, limit) {
  let out = '';
  for (const ch of text) {
    if (estimateTokens(out + ch) > limit) break;
    out += ch;
  }
  return out;
}

/**
 * What the input usage counts: system prompt, messages and tool definitions.
 * @param {{ system: string; messages: FakeMessage[]; tools: unknown[] }} request
 */
function promptText(request) {
  return (
    request.system +
    request.messages.map((m) => m.content).join('') +
    (request.tools.length > 0 ? JSON.stringify(request.tools) : '')
  );
}

/** @type {FakeResponder} */
export function echoResponder(req) {
  const last = req.messages.at(-1);
  if (!last) return { text: 'ok' };
  if (last.role === 'tool') return { text: `tool ${last.toolCallId ?? '?'} said: ${last.content}` };
  return { text: `echo: ${last.content}` };
}

/**
 * @param {FakeLlmOptions} [options]
 * @returns {Promise<FakeLlm>}
 */
export async function startFakeLlm(options = {}) {
  const host = options.host ?? '127.0.0.1';
  /** @type {FakeRequest[]} */
  const requests = [];
  /** @type {Array<{ callKey: string | undefined; inputTokens: number }>} */
  const tokenCounts = [];
  const events = new EventEmitter();
  // Tests may attach many waiters at once; none of them leaks past its own timeout.
  events.setMaxListeners(0);
  /** @type {FakeResponder} */
  let responder = options.responder ?? echoResponder;
  let closing = false;
  let nextId = 1;

  const changed = (/** @type {FakeRequest} */ entry) => events.emit('change', entry);

  const server = createServer((req, res) => {
    handle(req, res).catch((/** @type {unknown} */ err) => {
      // A bug in the fake itself: answer loudly instead of leaving the client hanging.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
      }
      res.end(`fake LLM internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://fake-llm');
    if (req.method === 'GET' && url.pathname === '/_log' && options.exposeLog) {
      sendJson(res, 200, requests);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/_timings' && options.exposeLog) {
      // Arrival and end of each request after ?after=<id>, on this process's clock (benchmarks).
      const after = Number(url.searchParams.get('after') ?? 0);
      sendJson(
        res,
        200,
        requests
          .filter((r) => r.id > after)
          .map((r) => ({
            id: r.id,
            agent: r.system.match(/AGENT=([a-z0-9-]+)/)?.[1] ?? null,
            callKey: r.callKey ?? null,
            receivedAt: r.receivedAt,
            respondedAt: r.respondedAt,
          })),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/_health') {
      sendJson(res, 200, { status: 'ok', requests: requests.length });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/messages/count_tokens') {
      // Anthropic's token counting, with the same count the answers report as their input usage.
      // Logged apart: it is not a completion (and costs nothing).
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        body = null;
      }
      const parsed = isRecord(body) ? parseBody('anthropic', body) : undefined;
      if (!parsed || typeof parsed.model !== 'string' || parsed.model === '') {
        sendJson(res, 400, {
          type: 'error',
          error: { type: 'invalid_request_error', message: 'model: Field required' },
        });
        return;
      }
      const inputTokens = estimateTokens(promptText(parsed));
      tokenCounts.push({ callKey: headerOf(req, 'x-cfn-call-key'), inputTokens });
      sendJson(res, 200, { input_tokens: inputTokens });
      return;
    }
    /** @type {'anthropic' | 'openai' | undefined} */
    const format =
      url.pathname === '/v1/messages'
        ? 'anthropic'
        : url.pathname === '/v1/chat/completions' || url.pathname === '/chat/completions'
          ? 'openai'
          : undefined;
    if (req.method !== 'POST' || format === undefined) {
      sendJson(res, 404, {
        error: { message: `no route for ${req.method} ${url.pathname}`, type: 'not_found' },
      });
      return;
    }

    const receivedAt = performance.timeOrigin + performance.now();
    const rawBody = await readBody(req);
    /** @type {Record<string, string>} */
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    /** @type {unknown} */
    let body = null;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = null;
    }
    const parsed = isRecord(body) ? parseBody(format, body) : undefined;
    /** @type {FakeRequest} */
    const entry = {
      id: nextId++,
      time: new Date().toISOString(),
      receivedAt,
      respondedAt: undefined,
      format,
      path: url.pathname,
      model: parsed?.model ?? '',
      system: parsed?.system ?? '',
      messages: parsed?.messages ?? [],
      tools: parsed?.tools ?? [],
      stream: parsed?.stream ?? false,
      includeUsage: parsed?.includeUsage ?? false,
      headers,
      requestId: headers['x-request-id'],
      callKey: headers['x-cfn-call-key'],
      body,
      rawBody,
      reply: 'pending',
      status: undefined,
      completed: false,
      clientClosed: false,
    };
    requests.push(entry);
    res.on('finish', () => {
      entry.respondedAt = performance.timeOrigin + performance.now();
    });

    // Aborted when the connection goes away, so pending delays stop and the log learns about it.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished && !closing) {
        entry.clientClosed = true;
      }
      gone.abort();
      changed(entry);
    });

    events.emit('request', entry);
    changed(entry);

    const rejection = validate(format, headers, body, options.apiKey);
    if (rejection) {
      sendError(res, entry, rejection.status, rejection.message);
      return;
    }

    /** @type {FakeReply} */
    let reply;
    try {
      reply = await responder(entry);
    } catch (err) {
      sendError(res, entry, 500, `responder failed: ${err instanceof Error ? err.message : err}`);
      return;
    }
    if (gone.signal.aborted) return;
    await sendReply(res, entry, reply, gone.signal);
  }

  /**
   * @param {ServerResponse} res
   * @param {FakeRequest} entry
   * @param {FakeReply} reply
   * @param {AbortSignal} gone
   */
  async function sendReply(res, entry, reply, gone) {
    if ('hang' in reply) {
      // Never answer: only the client closing (or the server shutting down) ends this request.
      entry.reply = 'hang';
      changed(entry);
      return;
    }
    if ('raw' in reply) {
      entry.reply = 'raw';
      entry.status = reply.status ?? 200;
      changed(entry);
      res.writeHead(entry.status, {
        'content-type':
          reply.contentType ?? (entry.stream ? 'text/event-stream' : 'application/json'),
      });
      res.end(reply.raw);
      return;
    }
    if ('status' in reply) {
      const retryAfter =
        reply.status === 429 && reply.retryAfterSeconds !== undefined
          ? { 'retry-after': String(reply.retryAfterSeconds) }
          : {};
      const message = 'message' in reply ? reply.message : undefined;
      sendError(res, entry, reply.status, message, retryAfter);
      return;
    }

    entry.reply = 'text';
    changed(entry);
    if (reply.delayMs) {
      if (!(await pause(reply.delayMs, gone))) return;
    }
    const answer = buildAnswer(entry, reply);
    if (!entry.stream) {
      entry.status = 200;
      const payload =
        entry.format === 'anthropic' ? anthropicMessage(answer) : openAiCompletion(answer);
      sendJson(res, 200, payload, responseIdHeaders(entry));
      entry.completed = true;
      changed(entry);
      return;
    }

    entry.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      ...responseIdHeaders(entry),
    });
    const frames =
      entry.format === 'anthropic' ? anthropicFrames(answer) : openAiFrames(answer, entry);
    for (const [index, frame] of frames.entries()) {
      if (gone.aborted) return;
      if (index > 0 && reply.chunkDelayMs) {
        if (!(await pause(reply.chunkDelayMs, gone))) return;
      }
      res.write(frame);
    }
    res.end(() => {
      entry.completed = true;
      changed(entry);
    });
  }

  /**
   * @param {ServerResponse} res
   * @param {FakeRequest} entry
   * @param {number} status
   * @param {string | undefined} message
   * @param {Record<string, string>} [extraHeaders]
   */
  function sendError(res, entry, status, message, extraHeaders = {}) {
    entry.status = status;
    entry.reply = status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : 'client_error';
    changed(entry);
    const text = message ?? defaultErrorMessage(status);
    const body =
      entry.format === 'anthropic'
        ? { type: 'error', error: { type: anthropicErrorType(status), message: text } }
        : { error: { message: text, ...openAiErrorTypeAndCode(status) } };
    sendJson(res, status, body, { ...responseIdHeaders(entry), ...extraHeaders });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('fake LLM: server has no TCP address');
  }
  const port = address.port;

  /** @type {FakeLlm['waitUntil']} */
  function waitUntil(predicate, timeoutMs = 5_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let value;
        try {
          value = predicate(requests);
        } catch (err) {
          finish();
          reject(err);
          return;
        }
        if (value) {
          finish();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `fake LLM: condition not met within ${timeoutMs} ms (${requests.length} requests)`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        events.off('change', check);
      };
      events.on('change', check);
      check();
    });
  }

  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    tokenCounts,
    events,
    setResponder(next) {
      responder = next;
    },
    reset() {
      requests.length = 0;
      tokenCounts.length = 0;
      nextId = 1;
      responder = options.responder ?? echoResponder;
    },
    onRequest(listener) {
      events.on('request', listener);
      return () => events.off('request', listener);
    },
    waitUntil,
    waitForRequests(count, timeoutMs = 5_000) {
      return waitUntil((all) => (all.length >= count ? all.slice(0, count) : undefined), timeoutMs);
    },
    close() {
      closing = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets and hanging requests would otherwise hold close() open forever.
        server.closeAllConnections();
      });
    },
  };
}

/**
 * Rules for the standalone server: the first rule whose `match` occurs in the system prompt or the
 * last user message decides the reply; otherwise the echo responder answers.
 *
 * @param {readonly FakeRule[]} rules
 * @returns {FakeResponder}
 */
export function createRuleResponder(rules) {
  return (req) => {
    const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
    for (const rule of rules) {
      if (req.system.includes(rule.match) || (lastUser?.content.includes(rule.match) ?? false)) {
        return rule.reply;
      }
    }
    return echoResponder(req);
  };
}

/**
 * Validates a rules document: a JSON array of `{ "match": string, "reply": FakeReply }`.
 *
 * @param {unknown} json
 * @returns {FakeRule[]}
 */
export function parseRules(json) {
  if (!Array.isArray(json)) {
    throw new Error('fake LLM rules: expected a JSON array of {"match": string, "reply": {...}}');
  }
  return json.map((rule, index) => {
    if (!isRecord(rule) || typeof rule.match !== 'string' || !isRecord(rule.reply)) {
      throw new Error(`fake LLM rules[${index}]: expected {"match": string, "reply": object}`);
    }
    const reply = rule.reply;
    const known = ['text', 'toolCalls', 'status', 'hang', 'raw'].some((key) => key in reply);
    if (!known) {
      throw new Error(
        `fake LLM rules[${index}].reply: needs one of text, toolCalls, status, hang, raw`,
      );
    }
    return { match: rule.match, reply: /** @type {FakeReply} */ (reply) };
  });
}

// ---- request parsing -------------------------------------------------------------------------

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isRecord(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @param {'anthropic' | 'openai'} format
 * @param {Record<string, any>} body
 */
function parseBody(format, body) {
  const model = typeof body.model === 'string' ? body.model : '';
  const stream = body.stream === true;
  if (format === 'anthropic') {
    return {
      model,
      stream,
      includeUsage: true,
      system: anthropicText(body.system),
      messages: Array.isArray(body.messages) ? body.messages.flatMap(normaliseAnthropic) : [],
      tools: Array.isArray(body.tools)
        ? body.tools.filter(isRecord).map((tool) => ({
            name: String(tool.name),
            description: String(tool.description ?? ''),
            inputSchema: isRecord(tool.input_schema) ? tool.input_schema : {},
          }))
        : [],
    };
  }
  const all = Array.isArray(body.messages) ? body.messages.filter(isRecord) : [];
  return {
    model,
    stream,
    includeUsage: isRecord(body.stream_options) && body.stream_options.include_usage === true,
    system: all
      .filter((m) => m.role === 'system' || m.role === 'developer')
      .map((m) => openAiText(m.content))
      .join('\n'),
    messages: all.filter((m) => m.role !== 'system' && m.role !== 'developer').map(normaliseOpenAi),
    tools: Array.isArray(body.tools)
      ? body.tools
          .filter((tool) => isRecord(tool) && isRecord(tool.function))
          .map((tool) => ({
            name: String(tool.function.name),
            description: String(tool.function.description ?? ''),
            inputSchema: isRecord(tool.function.parameters) ? tool.function.parameters : {},
          }))
      : [],
  };
}

/** @param {unknown} content */
function anthropicText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((block) => isRecord(block) && block.type === 'text')
    .map((block) => String(block.text))
    .join('');
}

/**
 * One Anthropic message becomes one neutral message, except that tool_result blocks become
 * separate 'tool' messages (as OpenAI models them), so responders see one shape for both formats.
 *
 * @param {unknown} message
 * @returns {FakeMessage[]}
 */
function normaliseAnthropic(message) {
  if (!isRecord(message)) return [];
  const role = message.role === 'assistant' ? 'assistant' : 'user';
  if (!Array.isArray(message.content)) {
    return [{ role, content: anthropicText(message.content) }];
  }
  const blocks = message.content.filter(isRecord);
  const text = anthropicText(blocks);
  if (role === 'assistant') {
    const toolCalls = blocks
      .filter((block) => block.type === 'tool_use')
      .map((block) => ({
        id: String(block.id),
        name: String(block.name),
        input: isRecord(block.input) ? block.input : {},
      }));
    return [{ role, content: text, ...(toolCalls.length > 0 ? { toolCalls } : {}) }];
  }
  /** @type {FakeMessage[]} */
  const out = blocks
    .filter((block) => block.type === 'tool_result')
    .map((block) => ({
      role: 'tool',
      toolCallId: String(block.tool_use_id),
      content: anthropicText(block.content),
      ...(block.is_error === true ? { isError: true } : {}),
    }));
  if (text !== '' || out.length === 0) out.push({ role: 'user', content: text });
  return out;
}

/** @param {unknown} content */
function openAiText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part) => isRecord(part) && part.type === 'text')
    .map((part) => String(part.text))
    .join('');
}

/**
 * @param {Record<string, any>} message
 * @returns {FakeMessage}
 */
function normaliseOpenAi(message) {
  if (message.role === 'tool') {
    return {
      role: 'tool',
      toolCallId: String(message.tool_call_id),
      content: openAiText(message.content),
    };
  }
  if (message.role === 'assistant') {
    const toolCalls = Array.isArray(message.tool_calls)
      ? message.tool_calls
          .filter((call) => isRecord(call) && isRecord(call.function))
          .map((call) => ({
            id: String(call.id),
            name: String(call.function.name),
            input: parseArguments(call.function.arguments),
          }))
      : [];
    return {
      role: 'assistant',
      content: openAiText(message.content),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    };
  }
  return { role: 'user', content: openAiText(message.content) };
}

/** @param {unknown} args */
function parseArguments(args) {
  try {
    const value = JSON.parse(String(args));
    return isRecord(value) ? value : { value };
  } catch {
    return { unparsed: String(args) };
  }
}

/**
 * The checks the real APIs make before a model ever runs, so provider bugs show up as 4xx here.
 *
 * @param {'anthropic' | 'openai'} format
 * @param {Record<string, string>} headers
 * @param {unknown} body
 * @param {string | undefined} apiKey
 * @returns {{ status: number; message: string } | undefined}
 */
function validate(format, headers, body, apiKey) {
  if (apiKey !== undefined) {
    // Anthropic takes x-api-key (older SDKs) or a Bearer token (SDK 1.x); OpenAI only Bearer.
    const bearer = headers.authorization?.replace(/^Bearer\s+/i, '');
    const presented = format === 'anthropic' ? (headers['x-api-key'] ?? bearer) : bearer;
    if (presented !== apiKey) {
      return {
        status: 401,
        message: format === 'anthropic' ? 'invalid x-api-key' : 'Incorrect API key provided.',
      };
    }
  }
  if (format === 'anthropic' && !headers['anthropic-version']) {
    return { status: 400, message: 'anthropic-version: header is required' };
  }
  if (!isRecord(body)) {
    return { status: 400, message: 'The request body is not valid JSON.' };
  }
  if (typeof body.model !== 'string' || body.model === '') {
    return { status: 400, message: 'model: Field required' };
  }
  if (!Array.isArray(body.messages)) {
    return { status: 400, message: 'messages: Field required' };
  }
  if (format === 'anthropic' && typeof body.max_tokens !== 'number') {
    return { status: 400, message: 'max_tokens: Field required' };
  }
  return undefined;
}

// ---- answers ---------------------------------------------------------------------------------

/**
 * @param {FakeRequest} entry
 * @param {FakeTextReply} reply
 */
function buildAnswer(entry, reply) {
  let text = reply.text ?? '';
  let toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
    id:
      call.id ??
      (entry.format === 'anthropic'
        ? `toolu_fake_${entry.id}_${index}`
        : `call_fake_${entry.id}_${index}`),
    name: call.name,
    input: call.input ?? {},
  }));
  const prompt = promptText(entry);
  const body = isRecord(entry.body) ? entry.body : {};
  const limit =
    entry.format === 'anthropic'
      ? body.max_tokens
      : (body.max_completion_tokens ?? body.max_tokens);
  let outputTokens =
    reply.usage?.outputTokens ??
    estimateTokens(text + (toolCalls.length > 0 ? JSON.stringify(toolCalls) : ''));
  let stopReason = reply.stopReason;
  if (typeof limit === 'number' && outputTokens > limit) {
    // As the real APIs do: the answer stops at the output limit, tool calls unfinished.
    text = truncateToTokens(text, limit);
    toolCalls = [];
    outputTokens = limit;
    stopReason = entry.format === 'anthropic' ? 'max_tokens' : 'length';
  }
  const anthropicStop = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const openAiStop = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  return {
    id: entry.format === 'anthropic' ? `msg_fake_${entry.id}` : `chatcmpl-fake-${entry.id}`,
    model: reply.model ?? (entry.model || 'fake-model'),
    text,
    toolCalls,
    stopReason: stopReason ?? (entry.format === 'anthropic' ? anthropicStop : openAiStop),
    usage: {
      inputTokens: reply.usage?.inputTokens ?? estimateTokens(prompt),
      outputTokens,
    },
  };
}

/** @typedef {ReturnType<typeof buildAnswer>} Answer */

/** @param {Answer} answer */
function anthropicMessage(answer) {
  return {
    id: answer.id,
    type: 'message',
    role: 'assistant',
    model: answer.model,
    content: [
      ...(answer.text !== '' ? [{ type: 'text', text: answer.text }] : []),
      ...answer.toolCalls.map((call) => ({
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: call.input,
      })),
    ],
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: { input_tokens: answer.usage.inputTokens, output_tokens: answer.usage.outputTokens },
  };
}

/** @param {Answer} answer */
function openAiCompletion(answer) {
  return {
    id: answer.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: answer.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.text === '' && answer.toolCalls.length > 0 ? null : answer.text,
          refusal: null,
          ...(answer.toolCalls.length > 0
            ? {
                tool_calls: answer.toolCalls.map((call) => ({
                  id: call.id,
                  type: 'function',
                  function: { name: call.name, arguments: JSON.stringify(call.input) },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: answer.stopReason,
      },
    ],
    usage: {
      prompt_tokens: answer.usage.inputTokens,
      completion_tokens: answer.usage.outputTokens,
      total_tokens: answer.usage.inputTokens + answer.usage.outputTokens,
    },
  };
}

/**
 * Splits text into up to `parts` pieces on code-point boundaries, so streams carry several deltas.
 *
 * @param {string} text
 * @param {number} parts
 */
function splitText(text, parts) {
  const points = Array.from(text);
  const size = Math.max(1, Math.ceil(points.length / parts));
  /** @type {string[]} */
  const pieces = [];
  for (let i = 0; i < points.length; i += size) pieces.push(points.slice(i, i + size).join(''));
  return pieces;
}

/**
 * @param {string} event
 * @param {unknown} data
 */
function sse(event, data) {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** @param {Answer} answer */
function anthropicFrames(answer) {
  const frames = [
    sse('message_start', {
      type: 'message_start',
      message: {
        id: answer.id,
        type: 'message',
        role: 'assistant',
        model: answer.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: answer.usage.inputTokens, output_tokens: 1 },
      },
    }),
    sse('ping', { type: 'ping' }),
  ];
  let index = 0;
  if (answer.text !== '') {
    frames.push(
      sse('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      }),
    );
    for (const piece of splitText(answer.text, 4)) {
      frames.push(
        sse('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        }),
      );
    }
    frames.push(sse('content_block_stop', { type: 'content_block_stop', index }));
    index += 1;
  }
  for (const call of answer.toolCalls) {
    frames.push(
      sse('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
      }),
    );
    for (const piece of splitText(JSON.stringify(call.input), 3)) {
      frames.push(
        sse('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        }),
      );
    }
    frames.push(sse('content_block_stop', { type: 'content_block_stop', index }));
    index += 1;
  }
  frames.push(
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: answer.stopReason, stop_sequence: null },
      usage: { output_tokens: answer.usage.outputTokens },
    }),
    sse('message_stop', { type: 'message_stop' }),
  );
  return frames;
}

/**
 * @param {Answer} answer
 * @param {FakeRequest} entry
 */
function openAiFrames(answer, entry) {
  const created = Math.floor(Date.now() / 1000);
  const usageField = entry.includeUsage ? { usage: null } : {};
  /** @param {Record<string, unknown>} delta @param {string | null} finish */
  const chunk = (delta, finish) =>
    `data: ${JSON.stringify({
      id: answer.id,
      object: 'chat.completion.chunk',
      created,
      model: answer.model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...usageField,
    })}\n\n`;
  const frames = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const piece of splitText(answer.text, 4)) frames.push(chunk({ content: piece }, null));
  answer.toolCalls.forEach((call, index) => {
    frames.push(
      chunk(
        {
          tool_calls: [
            { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        },
        null,
      ),
    );
    for (const piece of splitText(JSON.stringify(call.input), 3)) {
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null));
    }
  });
  frames.push(chunk({}, answer.stopReason));
  if (entry.includeUsage) {
    frames.push(
      `data: ${JSON.stringify({
        id: answer.id,
        object: 'chat.completion.chunk',
        created,
        model: answer.model,
        system_fingerprint: null,
        choices: [],
        usage: {
          prompt_tokens: answer.usage.inputTokens,
          completion_tokens: answer.usage.outputTokens,
          total_tokens: answer.usage.inputTokens + answer.usage.outputTokens,
        },
      })}\n\n`,
    );
  }
  frames.push('data: [DONE]\n\n');
  return frames;
}

// ---- errors and plumbing ---------------------------------------------------------------------

/** @param {number} status */
function anthropicErrorType(status) {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** @param {number} status */
function openAiErrorTypeAndCode(status) {
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 403)
    return { type: 'invalid_request_error', code: 'unsupported_country_region_territory' };
  if (status === 404) return { type: 'invalid_request_error', code: 'model_not_found' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

/** @param {number} status */
function defaultErrorMessage(status) {
  if (status === 429) return 'Rate limit exceeded; please retry after the indicated time.';
  if (status >= 500) return 'The server had an error while processing your request.';
  return `Request rejected with status ${status}.`;
}

/** @param {FakeRequest} entry */
function responseIdHeaders(entry) {
  return entry.format === 'anthropic'
    ? { 'request-id': `req_fake_${entry.id}` }
    : { 'x-request-id': `req_fake_${entry.id}` };
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} payload
 * @param {Record<string, string>} [headers]
 */
function sendJson(res, status, payload, headers = {}) {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** @param {import('node:http').IncomingMessage} req */
async function readBody(req) {
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of req) chunks.push(/** @type {Buffer} */ (chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Waits unless the client goes away first; returns whether the wait ran to its end.
 *
 * @param {number} ms
 * @param {AbortSignal} gone
 */
async function pause(ms, gone) {
  try {
    await delay(ms, undefined, { signal: gone });
    return true;
  } catch {
    return false;
  }
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {string} name
 */
function headerOf(req, name) {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
