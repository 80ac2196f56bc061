// GraphQL: queries over HTTP, subscriptions over graphql-transport-ws (graphql-ws's client).
// The documents are the contract's own files (graphql/operations/*.graphql, executed by the
// tests), fetched once from /mapview/operations/ and sent with their operation name.
import { createClient } from "./vendor/graphql-ws/client.js";
import { authHeaders, onRefresh, session } from "./session.js";

const ENDPOINT = new URL("../../graphql", import.meta.url);
const documents = new Map();

/** A GraphQL error list, as one message (the first error's, with its code). */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

function documentText(file) {
  if (!documents.has(file)) {
    const url = new URL(`../operations/${file}`, import.meta.url);
    documents.set(file, fetch(url).then((r) => {
      if (!r.ok) throw new Error(`GraphQL document ${file}: HTTP ${r.status}`);
      return r.text();
    }));
  }
  return documents.get(file);
}

/**
 * Run `operationName` from `file`. Returns {data, errors}: a field the caller may not read
 * comes back as null with an error, and the rest of the answer is still worth showing.
 */
export async function query(file, operationName, variables = {}) {
  const body = JSON.stringify({ query: await documentText(file), operationName, variables });
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json",
      ...authHeaders(ENDPOINT) },
    body,
  });
  let result;
  try { result = await response.json(); } catch (_) { throw new Error(`HTTP ${response.status}`); }
  if (!result.data && result.errors) throw new GraphQLError(result.errors);
  return { data: result.data, errors: result.errors || [] };
}

let client = null;

function socketUrl() {
  const url = new URL(ENDPOINT);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

let socket = null; // the open WebSocket, to restart it when the token is refreshed

/** The subscription client of the current session (a new one per login). */
function wsClient() {
  if (!client) {
    client = createClient({
      url: socketUrl(),
      // Called on every (re)connection: a reconnection after a token refresh sends the new one.
      connectionParams: () => (session() ? { Authorization: `Bearer ${session().token}` } : {}),
      retryAttempts: Infinity,
      shouldRetry: () => session() !== null,
      keepAlive: 20_000,
      lazy: true,
      on: { connected: (s) => { socket = s; }, closed: () => { socket = null; } },
    });
  }
  return client;
}

// The server ends a subscription when the token it was opened with expires: on each refresh,
// reconnect (graphql-ws's restart recipe), so the subscriptions carry on under the new token.
onRefresh(() => {
  if (socket && socket.readyState === WebSocket.OPEN) socket.close(4205, "Client Restart");
});

/** Subscribe; `onData(data)` for each event. Returns the function that unsubscribes. */
export async function subscribe(file, operationName, variables, onData, onError) {
  const text = await documentText(file);
  return wsClient().subscribe({ query: text, operationName, variables }, {
    next: (result) => {
      if (result.data) onData(result.data);
      else if (result.errors && onError) onError(new GraphQLError(result.errors));
    },
    error: (err) => { if (onError) onError(err instanceof Error ? err : new Error(String(err?.reason || err))); },
    complete: () => {},
  });
}

/** Close the socket (on logout: the next session authenticates a new one). */
export function closeSubscriptions() {
  if (client) client.dispose();
  client = null;
}
