"""Which language a message is in, and the fixed answer to one convrec cannot read."""

from __future__ import annotations

import re
import unicodedata

FOREIGN = {  # a fixed answer in the shopper's language, then in English
    "zh": "抱歉，我只能读懂英文。请用英文告诉我您想找什么。",
    "ja": "申し訳ありませんが、英語しか読めません。探しているものを英語で教えてください。",
    "ko": "죄송하지만 영어만 읽을 수 있습니다. 찾으시는 상품을 영어로 알려 주세요.",
    "ru": "Извините, я понимаю только английский. Пожалуйста, напишите по-английски, что вы ищете.",
    "ar": "عذرًا، أفهم الإنجليزية فقط. من فضلك اكتب ما تبحث عنه بالإنجليزية.",
    "el": "Συγγνώμη, καταλαβαίνω μόνο αγγλικά. Γράψτε μου στα αγγλικά τι ψάχνετε.",
    "he": "מצטער, אני מבין רק אנגלית. כתבו לי באנגלית מה אתם מחפשים.",
    "hi": "क्षमा करें, मैं केवल अंग्रेज़ी समझता हूँ। कृपया अंग्रेज़ी में बताइए कि आप क्या ढूँढ रहे हैं।",
    "th": "ขออภัย ฉันอ่านได้เฉพาะภาษาอังกฤษ กรุณาบอกเป็นภาษาอังกฤษว่าคุณกำลังมองหาอะไร",
    "es": "Lo siento, solo entiendo inglés. ¿Me dices en inglés qué estás buscando?",
    "fr": "Désolé, je ne comprends que l'anglais. Pouvez-vous me dire en anglais ce que vous cherchez ?",
    "de": "Entschuldigung, ich verstehe nur Englisch. Sagen Sie mir bitte auf Englisch, was Sie suchen.",
    "it": "Mi dispiace, capisco solo l'inglese. Può dirmi in inglese che cosa cerca?",
    "pt": "Desculpe, só entendo inglês. Pode dizer-me em inglês o que procura?",
}
ENGLISH_ONLY = "Sorry, I can only read English. Tell me in English what you're looking for."
_SCRIPTS = (("CJK", "zh"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("HANGUL", "ko"), ("CYRILLIC", "ru"),
            ("ARABIC", "ar"), ("GREEK", "el"), ("HEBREW", "he"), ("DEVANAGARI", "hi"), ("THAI", "th"))
_STOPWORDS = {
    "es": set("el la los las un una que de para con por quiero busco necesito algo y es en mi muy pero".split()),
    "fr": set("le la les un une des que de pour avec je cherche veux besoin quelque chose et est en mon mais".split()),
    "de": set("der die das ein eine ich suche brauche möchte für mit und ist nicht etwas mein aber bitte".split()),
    "it": set("il lo la gli le un una che di per con cerco voglio ho bisogno qualcosa e è mio ma".split()),
    "pt": set("os um uma que de para com procuro quero preciso algo é meu mas não".split()),  # not "a", "as", "o"
}


def language_of(text: str) -> str:
    """A language code when the message is not English (by script, or by common words); "" for English."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return ""
    counts: dict[str, int] = {}
    for ch in letters:
        if ch.isascii():
            continue
        name = unicodedata.name(ch, "")
        for script, code in _SCRIPTS:
            if name.startswith(script) or f" {script} " in f" {name} ":
                counts[code] = counts.get(code, 0) + 1
                break
    if counts:
        code, n = max(counts.items(), key=lambda kv: kv[1])
        if n >= 0.3 * len(letters):
            return code
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    if len(words) >= 3:
        for code, stop in _STOPWORDS.items():
            hits = len({w for w in words if w in stop})  # distinct words: "as long as" is one "as"
            english = sum(w in {"the", "a", "i", "for", "with", "and", "is", "my", "to", "of", "want", "need"}
                          for w in words)
            if hits >= 2 and hits >= 0.3 * len(words) and english < hits / 2:
                return code
    return ""


def unreadable_reply(code: str) -> str:
    """The fixed answer to a message in a language convrec cannot read."""
    return f"{FOREIGN[code]} {ENGLISH_ONLY}" if code in FOREIGN else ENGLISH_ONLY
