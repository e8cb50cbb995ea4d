"""Group chats: /helpnow works everywhere; everything else points to a private chat."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext


async def private_only(update: Update, context: BotContext) -> None:
    """Answer briefly in the group, with a button that opens a private chat."""
    message = update.effective_message
    if message is None or update.edited_message is not None:
        return  # edits in groups are not worth another message in everyone's chat
    user = update.effective_user
    lang = context.content.lang(context.content.pick_language(user.language_code if user else None))
    link = f"https://t.me/{context.bot.username}?start=menu"
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(lang.t("ui.buttons.open_private"), url=link)]]
    )
    await message.reply_text(lang.t("ui.group_only_private"), reply_markup=keyboard)
