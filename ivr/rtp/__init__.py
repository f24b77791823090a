"""RTP media: packets, G.711, DTMF (RFC 4733, in-band), sessions and ports."""
