"""A real WebRTC offer for the WHEP tests: what a browser's recvonly video player sends."""

from __future__ import annotations

import asyncio


async def recvonly_offer() -> bytes:
    """An aiortc peer's SDP offer to receive one video track (no STUN server)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp.encode()
    await pc.close()
    return sdp


def recvonly_offer_sync() -> bytes:
    return asyncio.run(recvonly_offer())
