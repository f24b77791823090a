"""Prompt frames, the pacing clock, playback, Mandarin readout and recording."""
