import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  MemoryStore,
  REDACTED,
  redactSerializedError,
  SagaDefinitionError,
  SERIALIZATION_NOTES_KEY,
  serializedErrorSchema,
  serializeError,
  WITHHELD_ERROR_MESSAGE,
  type ErrorRedactor,
  type SerializedError,
} from 'sagaflow';
import { redactText } from '../../src/errors/redact-error.js';
import { revokedProxy } from '../support/hostile.js';

const context = { saga: 'checkout', stage: 'charge', phase: 'execute' } as const;
const journaled = (thrown: unknown, redactor?: ErrorRedactor): SerializedError => {
  const result = redactSerializedError(serializeError(thrown), context, redactor);
  expect(serializedErrorSchema.safeParse(result).success).toBe(true);
  return result;
};

/** What axios throws for a 401: its request config (headers included), the request, the response. */
function axiosLikeError(): Error {
  return Object.assign(new Error('Request failed with status code 401'), {
    name: 'AxiosError',
    code: 'ERR_BAD_REQUEST',
    config: {
      url: 'https://api.example.com/v1/charges?api_key=k_live_42&currency=eur',
      method: 'post',
      headers: { Accept: 'application/json', Authorization: 'Bearer sk_live_123', 'X-API-Key': 'k_live_42' },
      auth: { username: 'shop', password: 'hunter2' },
      data: '{"amount":100,"card_token":"tok_visa"}',
    },
    request: {
      _header: 'POST /v1/charges HTTP/1.1\r\nAccept: application/json\r\nAuthorization: Bearer sk_live_123\r\nCookie: session=abc\r\n\r\n',
      rawHeaders: ['Host', 'api.example.com', 'Authorization', 'Bearer sk_live_123'],
    },
    response: { status: 401, headers: [['set-cookie', 'session=def'], ['content-type', 'application/json']], data: { error: 'invalid key' } },
    status: 401,
  });
}

describe('redactSerializedError: the default redaction', () => {
  it('an axios-like error: Authorization, X-API-Key, passwords, cookies, raw header lines and secret query parameters', () => {
    const result = journaled(axiosLikeError());
    const text = JSON.stringify(result);
    for (const secret of ['sk_live_123', 'k_live_42', 'hunter2', 'session=abc', 'session=def', 'tok_visa']) expect(text).not.toContain(secret);
    expect(result.data).toEqual({
      config: {
        url: `https://api.example.com/v1/charges?api_key=${REDACTED}&currency=eur`,
        method: 'post',
        headers: { Accept: 'application/json', Authorization: REDACTED, 'X-API-Key': REDACTED },
        auth: { username: 'shop', password: REDACTED },
        data: `{"amount":100,"card_token":"${REDACTED}"}`,
      },
      request: {
        _header: `POST /v1/charges HTTP/1.1\r\nAccept: application/json\r\nAuthorization: ${REDACTED}\r\nCookie: ${REDACTED}\r\n\r\n`,
        rawHeaders: ['Host', 'api.example.com', 'Authorization', REDACTED],
      },
      response: { status: 401, headers: [['set-cookie', REDACTED], ['content-type', 'application/json']], data: { error: 'invalid key' } },
      status: 401,
    });
    expect(result).toMatchObject({ name: 'AxiosError', message: 'Request failed with status code 401', code: 'ERR_BAD_REQUEST' });
  });

  it("a fetch-like error whose cause holds a Headers object; a password in a URL in the message and stack", () => {
    const response = { status: 403, headers: new Headers({ authorization: 'Basic dXNlcjpwdw==', cookie: 'sid=1', 'content-type': 'text/plain' }) };
    const thrown = new Error('fetch to postgres://app:S3CRETPW@db.internal/app failed', { cause: Object.assign(new Error('forbidden'), { response }) });
    const result = journaled(thrown);
    const text = JSON.stringify(result);
    for (const secret of ['S3CRETPW', 'dXNlcjpwdw==', 'sid=1']) expect(text).not.toContain(secret);
    expect(result.message).toBe(`fetch to postgres://app:${REDACTED}@db.internal/app failed`);
    expect(result.stack).toContain(`postgres://app:${REDACTED}@db.internal`);
    expect((result.data?.['cause'] as SerializedError).data).toEqual({
      response: { status: 403, headers: { authorization: REDACTED, cookie: REDACTED, 'content-type': 'text/plain' } },
    });
  });

  it('keys are matched case-insensitively, at any depth, ignoring - _ and .; other keys are untouched', () => {
    const thrown = Object.assign(new Error('x'), {
      deep: { deeper: { DB_PASSWORD: 'p', clientSecret: { nested: 's' }, 'proxy-authorization': 'Basic x', accessToken: 't', passwd: 'w' } },
      tokenCount: 3,
      secretName: 'kept',
      nothing: null,
    });
    expect(journaled(thrown).data).toEqual({
      deep: { deeper: { DB_PASSWORD: REDACTED, clientSecret: REDACTED, 'proxy-authorization': REDACTED, accessToken: REDACTED, passwd: REDACTED } },
      tokenCount: 3,
      secretName: 'kept',
      nothing: null,
    });
  });
});

describe('redactText: hostile text', () => {
  it("gets through 'a.a.a.…' (a word boundary at every other character), which the URL pattern took quadratic time on — some 9 s for 100,000 characters, 0.4 s of blocked event loop per failed attempt at the journal's clip limits", () => {
    // 400,000 characters: done at once in linear time; quadratic, some 2 minutes, past the test's timeout.
    const text = `token ${'a.'.repeat(200_000)}`;
    expect(redactText(text)).toBe(text);
    // A password in a URL whose scheme follows a word that cannot start one is still found.
    expect(redactText('1.postgres://user:pw@host and x-mysql://a:b@c')).toBe(`1.postgres://user:${REDACTED}@host and x-mysql://a:${REDACTED}@c`);
  });
});

describe('redactSerializedError: the saga hook', () => {
  it('runs after the default redaction, and can remove data entirely', () => {
    const seen: SerializedError[] = [];
    const result = journaled(axiosLikeError(), (error, where) => {
      seen.push(error);
      expect(where).toEqual(context);
      const { data: _data, ...rest } = error;
      return rest;
    });
    expect(JSON.stringify(seen[0])).not.toContain('sk_live_123');
    expect(result.data).toBeUndefined();
    expect(result.message).toBe('Request failed with status code 401');
  });

  it('a hook that throws, even a revoked Proxy: fails closed, keeping only name and code, with a note', () => {
    for (const thrown of [new Error('hook bug'), revokedProxy()]) {
      // What only the hook knows to remove: a customer's card number in the message, stack and data.
      const secret = Object.assign(new Error('card 4111111111111111 declined'), { code: 'E_DECLINED', customer: { card: '4111111111111111' } });
      const result = journaled(secret, (error) => {
        (error.data as Record<string, unknown>)['customer'] = 'mutated before throwing';
        throw thrown;
      });
      expect(JSON.stringify(result)).not.toContain('4111111111111111');
      expect(result).toEqual({
        name: 'Error',
        code: 'E_DECLINED',
        message: WITHHELD_ERROR_MESSAGE,
        data: {
          [SERIALIZATION_NOTES_KEY]: {
            redactErrorFailed: expect.stringMatching(/^the redactError hook of saga 'checkout' threw (Error: hook bug|a Proxy object) for stage 'charge'$/) as unknown,
          },
        },
      });
    }
  });

  it('a failed hook keeps sagaflow\'s own notes on the error', () => {
    const unreadable = new Error('boom');
    Object.defineProperty(unreadable, 'message', {
      get() {
        throw new Error('getter bug');
      },
    });
    const result = journaled(unreadable, () => {
      throw new Error('hook bug');
    });
    const notes = result.data?.[SERIALIZATION_NOTES_KEY] as Record<string, unknown>;
    expect(Object.keys(notes).sort()).toEqual(['redactErrorFailed', 'unreadable']);
  });

  it('a hook that returns something else than a serialised error: fails closed, with a note', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const cases: Array<[unknown, RegExp]> = [
        [undefined, /returned nothing/],
        [{ name: 1 }, /returned something that is not a serialised error \(name: /],
        [{ name: 'E', message: 'm', data: { big: 1n } }, /returned a value that is not JSON/],
        [revokedProxy(), /returned a value that is not JSON/],
        [Promise.reject(new Error('async hook')), /returned a Promise/],
      ];
      for (const [returned, why] of cases) {
        const result = journaled(new Error('boom'), () => returned as SerializedError);
        expect(result.message).toBe(WITHHELD_ERROR_MESSAGE);
        expect(result.stack).toBeUndefined();
        expect((result.data?.[SERIALIZATION_NOTES_KEY] as { redactErrorFailed: string }).redactErrorFailed).toMatch(why);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('defineSaga({ redactError })', () => {
  const input = z.object({});
  it('is carried on the built saga', () => {
    const redactError: ErrorRedactor = (error) => error;
    const saga = defineSaga({ name: 'with-hook', input, redactError }).stage('a', { execute: () => 1 }).build();
    expect(saga.redactError).toBe(redactError);
    expect(defineSaga({ name: 'without', input }).stage('a', { execute: () => 1 }).build().redactError).toBeUndefined();
  });

  it('must be a function', () => {
    const build = (): unknown =>
      defineSaga({ name: 'bad-hook', input, redactError: 'no' as unknown as ErrorRedactor })
        .stage('a', { execute: () => 1 })
        .build();
    expect(build).toThrow(SagaDefinitionError);
    try {
      build();
    } catch (error) {
      expect((error as SagaDefinitionError).issues).toEqual([{ path: 'redactError', message: 'must be a function' }]);
    }
  });
});

describe('a run whose redactError hook throws', () => {
  it('journals the failure withheld, and rolls back as it would have', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    const undone: string[] = [];
    const saga = defineSaga({
      name: 'hook-bug',
      input: z.object({}),
      redactError: (error) => {
        if (error.data?.['customer'] !== undefined) throw new TypeError('the hook did not expect a customer');
        return error;
      },
    })
      .stage('reserve', { execute: async () => ({ reserved: true }), compensate: async () => void undone.push('reserve') })
      .stage('charge', {
        execute: async () => {
          throw Object.assign(new Error('card 4111111111111111 declined'), { customer: { card: '4111111111111111' } });
        },
      })
      .build();
    const run = orchestrator.start(saga, {});
    const outcome = await run.outcome;
    expect(outcome.status).toBe('compensated');
    expect(undone).toEqual(['reserve']);
    expect(outcome.outputs).toEqual({ reserve: { reserved: true } });
    expect(outcome.failure?.stage).toBe('charge');
    expect(outcome.failure?.error.message).toBe(WITHHELD_ERROR_MESSAGE);
    expect(JSON.stringify(await store.load(run.runId))).not.toContain('4111111111111111');
    await orchestrator.close();
  });
});
