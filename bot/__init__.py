"""recovery-help-bot: a Telegram guide for people affected by drug addiction."""
