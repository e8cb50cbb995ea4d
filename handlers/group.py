"""Group chats: /helpnow works everywhere; everything else points to a private chat."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.services import services


async def private_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer briefly in the group, with a button that opens a private chat."""
    message = update.effective_message
    if message is None or update.edited_message is not None:
        return  # edits in groups are not worth another message in everyone's chat
    user = update.effective_user
    lang = services(context).content.lang(
        services(context).content.pick_language(user.language_code if user else None)
    )
    link = f"https://t.me/{context.bot.username}?start=menu"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(lang.button("open_private"), url=link)]])
    await message.reply_text(lang.text("group_only_private"), reply_markup=keyboard)

