"""WHEP signalling details: offers checked at the edge, trickle-ICE fragments, ICE host addresses.

aiortc is answerer here. Its ICE agent (aioice) binds every interface except loopback and has
no option for it, so the configured host addresses replace its address lookup. Remote mDNS
(``.local``) candidates are dropped: the server cannot resolve them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aioice.ice
from aiortc import RTCIceCandidate, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import SessionDescription, candidate_from_sdp

from geo.errors import InvalidInput

MAX_SDP_BYTES = 64 * 1024


class UnsupportedOffer(InvalidInput):
    code = "unsupported_offer"


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str  # with mDNS candidates removed
    ice_ufrag: str | None
    video_mid: str | None


def check_offer(text: str) -> Offer:
    """A WHEP offer: parseable SDP with a video m-line we may send on, offering H.264."""
    if not text.lstrip().startswith("v=0"):
        raise InvalidInput("The body is not a valid SDP offer: it must start with v=0.")
    sdp = "\r\n".join(line for line in text.splitlines() if not _mdns_candidate(line)) + "\r\n"
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises anything from ValueError to IndexError
        raise InvalidInput(f"The body is not a valid SDP offer ({type(exc).__name__}).") from None
    video = [m for m in parsed.media if m.kind == "video"]
    if not video:
        raise UnsupportedOffer("The offer has no video m-line: add a recvonly video transceiver.")
    if video[0].direction not in ("recvonly", "sendrecv", None):
        raise UnsupportedOffer(
            f"The offer's video is {video[0].direction}; a viewer's offer must be recvonly."
        )
    if not any(c.mimeType.lower() == "video/h264" for c in video[0].rtp.codecs):
        raise UnsupportedOffer(
            "The offer has no H.264 video codec; cameras are sent as H.264 (packetization-mode 1)."
        )
    ice = video[0].ice  # aiortc copies a session-level ufrag into every m-line
    return Offer(sdp, ice.usernameFragment if ice else None, video[0].rtp.muxId)


def h264_preferences() -> list[RTCRtpCodecCapability]:
    """H.264 (and its retransmission codec) only: the relay carries H.264 packets."""
    return [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType.lower() in ("video/h264", "video/rtx")
    ]


@dataclass
class Fragment:
    """A trickle-ICE sdpfrag (RFC 8840) as a PATCH carries it."""

    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    candidates: list[RTCIceCandidate] = field(default_factory=list)
    end_of_candidates: bool = False


def parse_fragment(text: str, default_mid: str | None) -> Fragment:
    frag = Fragment()
    mid, index = default_mid, 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            index += 1
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=ice-ufrag:"):
            frag.ice_ufrag = line[len("a=ice-ufrag:") :]
        elif line.startswith("a=ice-pwd:"):
            frag.ice_pwd = line[len("a=ice-pwd:") :]
        elif line == "a=end-of-candidates":
            frag.end_of_candidates = True
        elif line.startswith("a=candidate:"):
            if _mdns_candidate(line):
                continue
            try:
                candidate = candidate_from_sdp(line[len("a=candidate:") :])
            except (AssertionError, ValueError, IndexError):
                raise InvalidInput(f"Not an ICE candidate line: {line[:120]!r}.") from None
            candidate.sdpMid = mid
            candidate.sdpMLineIndex = max(0, index - 1)
            frag.candidates.append(candidate)
        elif line and not line.startswith(("a=", "m=", "c=")):
            raise InvalidInput(f"Not a trickle-ICE sdpfrag line: {line[:120]!r}.")
    return frag


def _mdns_candidate(line: str) -> bool:
    if not line.startswith(("a=candidate:", "candidate:")):
        return False
    bits = line.split()
    return len(bits) > 4 and bits[4].endswith(".local")


def use_host_addresses(addresses: list[str]) -> Callable[[], None]:
    """Make ICE gather on ``addresses`` only (when given); returns the undo."""
    original = aioice.ice.get_host_addresses
    if not addresses:
        return lambda: None

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in addresses if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured

    def restore() -> None:
        aioice.ice.get_host_addresses = original

    return restore
