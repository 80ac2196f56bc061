// A WHEP viewer (RFC 9725): recvonly offer → POST → answer; DELETE on stop. Used by the player
// page and embeddable by the map view: `const v = await watch(video, url, token); v.stop()`.

/** A WHEP request failed: `status`, the problem's `detail`, and `retryAfter` seconds if given. */
export class WhepError extends Error {
  constructor(status, detail, retryAfter) {
    super(detail);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function gathered(pc, maxMs) {
  // Non-trickle: the offer goes out once ICE gathering ends (or after maxMs, with what it has).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, maxMs);
  });
}

export async function watch(video, whepUrl, token, { onEnded } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 2000);
  const response = await fetch(whepUrl, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    pc.close();
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not a problem+json */ }
    const retry = Number(response.headers.get("Retry-After")) || null;
    throw new WhepError(response.status, detail, retry);
  }
  const session = new URL(response.headers.get("Location"), new URL(whepUrl, location.href));
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  let stopped = false;
  const stop = (endSession = true) => {
    if (stopped) return;
    stopped = true;
    if (!endSession) { pc.close(); return; }
    // DELETE first, close after: a closed connection ends the session on the server by itself,
    // and a DELETE that arrives after that would find nothing (404).
    fetch(session, { method: "DELETE", keepalive: true, headers: { Authorization: `Bearer ${token}` } })
      .catch(() => {})
      .finally(() => pc.close());
  };
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed"].includes(pc.connectionState) && !stopped) {
      stop(pc.connectionState === "failed"); // "closed": the server ended it already
      if (onEnded) onEnded(pc.connectionState);
    }
  });
  return { pc, session, stop };
}
