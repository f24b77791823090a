"""Agent queue and agent console."""
