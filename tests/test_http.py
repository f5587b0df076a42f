"""The Bot API client's errors: PTB's kinds, and never the URL that holds the token."""

from __future__ import annotations

import pytest
from telegram.error import NetworkError

from bot.http import AiohttpRequest

TOKEN = "123456:SECRET-token"


@pytest.mark.parametrize("base", ["htp:/example.org", "http://[bad", "http://a..b", "http://127.0.0.1:1"])
async def test_a_failed_request_says_why_without_the_token(base):
    request = AiohttpRequest(1, connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(f"{base}/bot{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()
    assert "aiohttp." in raised.value.message
    assert "SECRET" not in raised.value.message
