/**
 * The `fetch` that Node entry points (CLIs, the local sandbox, Node tests) inject into the outbound
 * clients: undici's fetch over one keep-alive `Agent` with connect, headers and body timeouts, so a
 * dead peer is noticed by the socket layer even if a caller forgets its own timeout.
 *
 * Import this only from Node entry points: undici cannot run inside workerd (it compiles WebAssembly
 * at load). The Worker injects the runtime's own `fetch` instead.
 *
 * Trade-off: undici 8's `fetch` does not accept Node's global `Request` (a different undici copy
 * inside Node), and Node's global `fetch` rejects an undici 8 dispatcher. So each request is copied
 * into plain init fields, buffering the body (ours are small JSON or form bodies), and the answer is
 * rewrapped as a global `Response` so callers see one Response class.
 */
import { Agent, fetch as undiciFetch } from "undici";
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  NODE_HTTP_CONNECT_TIMEOUT_MS,
  NODE_HTTP_KEEP_ALIVE_MS,
} from "../constants.ts";
import type { FetchLike } from "./http.ts";

export interface NodeFetchOptions {
  connectTimeoutMs?: number;
  /** Socket-level backstop for the wait for response headers. */
  headersTimeoutMs?: number;
  /** Socket-level backstop for silence between body chunks. */
  bodyTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Sockets per origin; undefined means undici's default (unlimited). */
  connections?: number;
}

export interface NodeFetch {
  fetch: FetchLike;
  /** Closes the pooled sockets so a CLI can exit promptly. */
  close(): Promise<void>;
}

/** Builds a Node-side `fetch` on its own undici Agent. */
export function createNodeFetch(options: NodeFetchOptions = {}): NodeFetch {
  const agent = new Agent({
    connectTimeout: options.connectTimeoutMs ?? NODE_HTTP_CONNECT_TIMEOUT_MS,
    headersTimeout: options.headersTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    bodyTimeout: options.bodyTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? NODE_HTTP_KEEP_ALIVE_MS,
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  });

  const fetch: FetchLike = async (input, init) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const body = request.body === null ? undefined : await request.arrayBuffer();
    const answer = await undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal: request.signal,
      redirect: request.redirect as "follow" | "manual" | "error",
      dispatcher: agent,
    });
    const nullBody = answer.status === 204 || answer.status === 304 || answer.body === null;
    return new Response(nullBody ? null : (answer.body as ReadableStream<Uint8Array>), {
      status: answer.status,
      statusText: answer.statusText,
      headers: [...answer.headers],
    });
  };

  return { fetch, close: () => agent.close() };
}
