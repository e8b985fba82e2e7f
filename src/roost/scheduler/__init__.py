"""Scheduled jobs: when they fire (``timing``), how to wait (``clock``) and their config."""
