"""Speech recognition with Vosk: voice activity, endpointing and intents."""
