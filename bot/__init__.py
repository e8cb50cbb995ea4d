"""recovery-help-bot: a Telegram guide for people affected by drug addiction."""

import os

# Opt in to python-telegram-bot's future behaviour: durations (RetryAfter.retry_after) as
# timedelta. bot.delivery accepts both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
