// Each call's outcome is shown as text: "<status> …" when the browser let the page read the
// answer, "refused: <reason>" when CORS (or the WebSocket's Origin check) stopped it.
const query = new URLSearchParams(location.search);
const api = query.get("api");
const [lon, lat] = [query.get("lon"), query.get("lat")];
const results = document.getElementById("results");
const json = { "Content-Type": "application/json" };

function show(name, text) {
  const term = document.createElement("dt");
  term.textContent = name;
  const value = document.createElement("dd");
  value.id = name;
  value.textContent = text;
  results.append(term, value);
}

async function attempt(name, run) {
  try {
    show(name, await run());
  } catch (error) {
    show(name, `refused: ${error.message}`);
  }
}

// The citizen API: a staff log-in (a JSON POST: preflighted), then a call with the token.
await attempt("login", async () => {
  const body = { grant_type: "password", phone: "13800000006", password: "onemap-demo" };
  const r = await fetch(`${api}/api/v1/auth/token`, {
    method: "POST", headers: json, body: JSON.stringify(body),
  });
  const token = (await r.json()).access_token;
  const me = await fetch(`${api}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  return `${r.status} ${me.status} ${(await me.json()).roles.join(",")}`;
});

// A public endpoint (a simple GET: no preflight, but the answer must allow this origin).
await attempt("locate", async () => {
  const r = await fetch(`${api}/api/v1/locate?lon=${lon}&lat=${lat}`);
  return `${r.status} ${(await r.json()).district.name_en}`;
});

await attempt("graphql", async () => {
  const r = await fetch(`${api}/graphql`, {
    method: "POST", headers: json,
    body: JSON.stringify({ query: "{ facilities(first: 3) { nodes { code } } }" }),
  });
  return `${r.status} ${(await r.json()).data.facilities.nodes.map((f) => f.code).join(",")}`;
});

await attempt("tile", async () => {
  const r = await fetch(`${api}${query.get("tile")}`);
  const size = (await r.arrayBuffer()).byteLength;
  return `${r.status} ${r.headers.get("content-type")} ${size} bytes`;
});

// GraphQL over WebSocket: no preflight; the server checks the handshake's Origin.
await attempt("socket", () => new Promise((resolve, reject) => {
  const socket = new WebSocket(`${api.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  socket.onmessage = (m) => {
    socket.close();
    resolve(`open: ${JSON.parse(m.data).type}`);
  };
  socket.onclose = () => reject(new Error("the handshake was refused"));
  setTimeout(() => reject(new Error("no answer")), 10000);
}));

show("done", "yes");
