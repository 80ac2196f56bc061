"""Live camera video over WebRTC/WHEP (aiortc): one source and one relay per camera, on demand."""
