"""What a caller may send, checked before anything reaches the agent: text that is valid Unicode with something
visible in it, numbers the agent can read, ids and idempotency keys of a sane shape.

Each check returns the cleaned value or raises ValueError with a sentence that says what to send instead;
ui/service.py turns that into its InvalidInput error (HTTP 422, or 400 on the OpenAI routes).
"""

from __future__ import annotations

import re
import unicodedata

SESSION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")  # ids a caller may choose (OpenAI `user`, X-Session-Id)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces (UUIDs, ULIDs, hashes)
MAX_DIGITS = 12  # a digit run longer than this is no price, size or quantity a shopper means
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}
# control characters are dropped; format characters stay (a right-to-left mark or an emoji joiner is meant)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EXPONENT = re.compile(r"[$€£]\s*\d[\d.,]*[eE][+-]?\d|\d[eE][+-]?\d{2,}\s*(?:\$|usd|dollars?|bucks|eur|euros?)\b",
                       re.IGNORECASE)
_DIGITS = re.compile(r"\d[\d,]*")


def clean_text(text: str) -> str:
    """The message without control characters (NUL, escape, ...); ValueError when it is not valid Unicode, has
    nothing visible, or holds a number the agent would misread (exponents, more than MAX_DIGITS digits)."""
    check_unicode(text, "message")
    cleaned = _CONTROL.sub("", text)
    if not any(unicodedata.category(c) not in _INVISIBLE for c in cleaned):
        raise ValueError("message has no visible characters; send what the shopper said as text")
    if _EXPONENT.search(cleaned):
        raise ValueError("amounts in exponent notation (like $1e3) are not read; write the amount in plain "
                         "figures, like $150")
    longest = max((len(m.group(0).replace(",", "")) for m in _DIGITS.finditer(cleaned)), default=0)
    if longest > MAX_DIGITS:
        raise ValueError(f"a number with {longest} digits is not read (at most {MAX_DIGITS}); write prices, "
                         "sizes and quantities in plain figures, like $150")
    return cleaned


def check_unicode(text: str, what: str) -> str:
    """The text itself; ValueError when it holds lone surrogates (which no UTF-8 encoder can write)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what} is not valid Unicode (a lone surrogate at character {e.start}); send UTF-8 "
                         "text, and encode characters outside the BMP as one surrogate pair") from None
    return text


def check_session_id(sid: str) -> str:
    """A caller-chosen session id; ValueError unless 1-128 letters, digits or _.:-."""
    if not SESSION_ID.match(sid):
        raise ValueError("session id (X-Session-Id or user) must be 1-128 letters, digits or _.:-")
    return sid


def check_idempotency_key(key: str) -> str:
    """An Idempotency-Key header value; ValueError unless 1-255 printable ASCII characters without spaces."""
    if not IDEMPOTENCY_KEY.match(key):
        raise ValueError("Idempotency-Key must be 1-255 printable ASCII characters without spaces "
                         "(a UUID is a good key)")
    return key
