"""Callback data: every button's ``callback_data``, declared in one place.

Telegram gives a button at most 64 bytes; every value here (with the longest suffix it takes)
stays well under that, and the content validator checks the page ids that follow ``CB_PAGE``.
Handlers match these with patterns (``handlers/__init__.py`` and the per-concern
``handlers()`` lists); screens put them on buttons. Old or forged data that matches nothing
gets the friendly stale-button answer.
"""

from __future__ import annotations

# --- guide, Help now, settings, privacy -----------------------------------------------------
CB_MENU = "menu"
CB_HELP = "help"  # + optionally ":" and the callback data of the screen it was pressed on
CB_PAGE = "p:"  # + page id
CB_SETTINGS = "set"
CB_COUNTRY_PICK = "set:country"
CB_COUNTRY = "set:c:"  # + country code, or "-" for none
CB_LANGUAGE_PICK = "set:language"
CB_LANGUAGE = "set:l:"  # + language code
CB_PRIVACY = "priv"
CB_STORED = "priv:stored"
CB_DELETE_ASK = "del:ask"
CB_DELETE_YES = "del:yes"
CB_DELETE_NO = "del:no"
CB_CHECKINS = "ck"
CB_EMERGENCY = "em:"  # + an emergency screen: overdose, withdrawal (from the main menu)


# --- check-ins ("ck" is the Check-ins button of the main menu and the guide) -----------------
CK_STATUS = CB_CHECKINS
CK_TIME = "ck:t"  # choose a time: presets, picker, or type one
CK_SET_TIME = "ck:s:"  # + HHMM
CK_HOURS = "ck:h"  # hour picker
CK_HOUR = "ck:h:"  # + HH: minute picker for that hour
CK_ZONES = "ck:z:"  # + HHMM: choose a time zone for that time
CK_ZONE_COUNTRY = "ck:zc:"  # + HHMM:CC: the time zones of country CC
CK_ZONE = "ck:zs:"  # + HHMM:Area/City: turn on (or change) with that time and zone
CK_PAUSE = "ck:p"
CK_RESUME = "ck:r"
CK_DISCREET = "ck:d"
CK_STOP = "ck:x"
# Buttons on the check-in message itself answer with a new message (the check-in stays).
CK_OKAY = "ck:ok"
CK_STRUGGLING = "ck:bad"
CK_HELP_NOW = "ck:sos"
CK_MSG_PAUSE = "ck:m:p"
CK_MSG_TIME = "ck:m:t"
CK_MSG_STOP = "ck:m:x"
# Day counter.
CK_COUNTER = "ck:c"
CK_COUNTER_AGO = "ck:c:ago:"  # + days before today (0 = today, 1 = yesterday)
CK_COUNTER_TYPE = "ck:c:type"
CK_COUNTER_HIDE = "ck:c:hide"
CK_COUNTER_SHOW = "ck:c:show"
CK_COUNTER_SLIP = "ck:c:slip"
CK_COUNTER_SLIP_YES = "ck:c:slip:yes"
CK_COUNTER_REMOVE = "ck:c:del"


# --- safety plan ("sp": open it, or carry on with the one being made) ---------------------------
# Buttons on a step carry the plan's token (random, made when the plan starts) and the step, so a
# button of a plan that was sent, cancelled or deleted, or of another step, is recognised as old.
SP_OPEN = "sp"  # the intro, or the current step of a plan being made
SP_BEGIN = "sp:go"  # start (or carry on)
SP_ADD = "sp:a:"  # + token:step:key: add (or take out) a suggestion
SP_NEXT = "sp:n:"  # + token:step: done with this step, or skip it (the last step sends the plan)
SP_BACK = "sp:b:"  # + token:step: the previous step (from the first: the intro)
SP_UNDO = "sp:u:"  # + token:step: take out the last thing added
SP_CANCEL = "sp:x:"  # + token: cancel; nothing is kept


# --- admin --------------------------------------------------------------------------------------
ADMIN_PREFIX = "adm:"
ADMIN_ALL = "adm:all"
ADMIN_CHECKINS = "adm:ck"
ADMIN_LANGUAGES = "adm:langs"
ADMIN_COUNTRIES = "adm:countries"
ADMIN_LANGUAGE = "adm:l:"  # + language code
ADMIN_COUNTRY = "adm:c:"  # + country code
ADMIN_BACK = "adm:back"
ADMIN_SEND = "adm:send"
ADMIN_CANCEL = "adm:cancel"
ADMIN_STOP = "adm:stop:"  # + broadcast id (the Stop button of a running broadcast)
