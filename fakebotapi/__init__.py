"""A fake Telegram Bot API server for end-to-end tests and the bot benchmark.

The real python-telegram-bot ``Application`` talks HTTP to :class:`BotAPIServer` on 127.0.0.1
(``base_url`` = ``server.base_url``, ``base_file_url`` = ``server.base_file_url``).  The server
answers the methods an ordinary bot uses with Telegram's JSON shapes, validates what Telegram
validates (HTML entities, text length, button data, inline results) with Telegram's wording, and
can inject faults (429, 500, malformed body, slow answer, dropped connection).

Tests feed updates with :meth:`BotAPIServer.push_update` or the builders (``private_text``,
``group_text``, ``callback``, ...), and observe the bot through :attr:`BotAPIServer.calls`,
:meth:`BotAPIServer.sent` and :meth:`BotAPIServer.wait_for`.  Two hooks serve a caller that is
not a test: ``BotAPIServer(deliver=...)`` sends the builders' updates somewhere other than the
getUpdates queue (after :meth:`BotAPIServer.register_update`), and
:meth:`BotAPIServer.add_listener` is told of every successful call.

The server knows nothing of the bot under test; it only knows the Bot API.

Fidelity notes:

* Text limits (4096 for messages, 1024 for captions) are counted after entity parsing in UTF-16
  code units, which is never more lenient than Telegram.
* HTML is parsed strictly, as the Bot API documentation demands (a bare ``&`` or an unknown
  entity such as ``&nbsp;`` is an error); MarkdownV2/Markdown texts are accepted unparsed.
* Telegram method names are case-insensitive; ``Call.method`` holds the canonical spelling.
* A second concurrent getUpdates ends the first with 409 Conflict, as Telegram does; getUpdates
  while a webhook is set is a 409 too.
* Editing without ``reply_markup`` removes the inline keyboard, as on Telegram.
* ``sendPhoto`` takes a PNG (uploaded as multipart, or a file id it holds) and checks Telegram's
  limits: 10 MB, width + height at most 10,000, a side ratio at most 20; other kinds of image
  are refused, since it reads no other.

The modules, by job: :mod:`~fakebotapi.server` (lifecycle, HTTP, the update queue, waiting),
:mod:`~fakebotapi.methods` (the Bot API methods), :mod:`~fakebotapi.checks` (what Telegram
validates), :mod:`~fakebotapi.updates` (the update builders), :mod:`~fakebotapi.html` (the HTML
parse mode), :mod:`~fakebotapi.faults` (faults and error answers), :mod:`~fakebotapi.calls`
(requests and answers).
"""

from fakebotapi.calls import Call, Upload
from fakebotapi.faults import FAULT_KINDS, ApiError, Fault
from fakebotapi.html import HTMLParseError, parse_html, parse_html_entities, utf16_len
from fakebotapi.server import BotAPIServer

__all__ = ["FAULT_KINDS", "ApiError", "BotAPIServer", "Call", "Fault", "HTMLParseError",
           "Upload", "parse_html", "parse_html_entities", "utf16_len"]
