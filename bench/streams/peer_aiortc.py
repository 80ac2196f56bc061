"""The peer: aiortc's own recipe for serving one camera to many viewers (its server example):
one ``MediaPlayer`` and one ``MediaRelay``, a WHEP endpoint, no auth, no database.

    python bench/streams/peer_aiortc.py PORT CLIP passthrough   # MediaPlayer(decode=False)
    python bench/streams/peer_aiortc.py PORT CLIP reencode      # decoded, encoded per viewer

Run by bench/streams/run.py with ``--peers``; 127.0.0.1 only.
"""

from __future__ import annotations

import sys
import uuid

import aioice.ice
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
PORT, CLIP, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
state: dict[str, object] = {}
pcs: dict[str, RTCPeerConnection] = {}


def source() -> object:
    # A fresh player per benchmark step (when nobody watches): the recipe keeps one forever,
    # and MediaPlayer(loop=True) forwarding packets loses its pacing after the first loop
    # (pts restart at 0), so the peer plays a clip longer than a step, once.
    if not state.get("watching"):
        if "player" in state:
            state["player"].video.stop()  # type: ignore[attr-defined]
        player = MediaPlayer(CLIP, decode=MODE != "passthrough")
        state["player"], state["relay"] = player, MediaRelay()
    state["watching"] = int(state.get("watching", 0)) + 1  # type: ignore[call-overload]
    return state["relay"].subscribe(state["player"].video, buffered=False)  # type: ignore[attr-defined]


async def whep(request: Request) -> Response:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver(source(), direction="sendonly")  # type: ignore[arg-type]
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType in ("video/H264", "video/rtx")]
    )
    await pc.setRemoteDescription(RTCSessionDescription((await request.body()).decode(), "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    sid = uuid.uuid4().hex
    pcs[sid] = pc
    return Response(pc.localDescription.sdp, 201, media_type="application/sdp",
                    headers={"Location": f"{request.url.path}/{sid}"})  # fmt: skip


async def end(request: Request) -> Response:
    pc = pcs.pop(request.path_params["sid"], None)
    if pc is not None:
        state["watching"] = int(state.get("watching", 1)) - 1  # type: ignore[call-overload]
        await pc.close()
    return Response(status_code=200)


app = Starlette(routes=[
    Route("/streams/cameras/{cid}/whep", whep, methods=["POST"]),
    Route("/streams/cameras/{cid}/whep/{sid}", end, methods=["DELETE"]),
])  # fmt: skip

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
