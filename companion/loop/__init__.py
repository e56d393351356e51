"""The running companion: the runner that feeds intents to a session, the voice loop that
joins hearing, speech and the log, device recovery, the echo gate and the live transcript."""
