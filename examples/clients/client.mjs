// A minimal Punchcard client for Node 18+ (built-in fetch).
//   node examples/clients/client.mjs [URL]
// Retries an event with the same id on 503 or a network error: punchd applies an id once.
const url = (process.argv[2] || "http://127.0.0.1:8080").replace(/\/$/, "");
const headers = { "Content-Type": "application/json" };
if (process.env.PUNCHD_API_KEY) headers.Authorization = `Bearer ${process.env.PUNCHD_API_KEY}`;

export async function send(event, attempts = 5) {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v1/events`, { method: "POST", headers, body: JSON.stringify(event) });
      if (res.status !== 503 || i + 1 >= attempts) return { status: res.status, body: await res.json() };
    } catch (err) {
      if (i + 1 >= attempts) throw err;
    }
    await new Promise((r) => setTimeout(r, 100 * 2 ** i));
  }
}

const event = { id: `node-${Date.now()}`, type: "workout", member: "bo" };
console.log(JSON.stringify(await send(event)));
