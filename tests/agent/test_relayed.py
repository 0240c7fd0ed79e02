"""Conversations convrec joins: a colleague's (or the integrating bot's) messages name products, and the shopper's
next question is about what they named; convrec can also suggest replies without them counting as shown.

Every check is a fact of the catalog (the item's price, title words, which items a brand has), never the agent's
wording copied back.
"""

from __future__ import annotations

import re

import pytest

from agent import Settings, build_agent
from agent.mentions import named_items
from agent.reasons import price_text
from retrieval.items import item_from_row
from tests.conftest import _index_from

SETTINGS = Settings(llm_backend="none", max_questions=0)

ROWS = [  # a small shop with the record shapes real catalogs have: specs in titles, blurbs in descriptions
    {"id": "paper", "title": "Hammermill Printer Paper, 20 Lb Copy Paper, 8.5 x 11 - 8 Ream (4,000 Sheets)",
     "category": "Office > Paper", "brand": "Hammermill", "price": 42.99,
     "description": "Premium copy paper for everyday printing. Made in the USA.",
     "image": "https://img.example/paper-1.jpg"},
    {"id": "light", "title": "Sensyne 10'' Ring Light with 50'' Extendable Tripod Stand, LED Circle Light",
     "category": "Cellphones > Accessories", "brand": "Sensyne", "price": 49.99,
     "description": "Touch control with 3 colour modes and 10 brightness levels. The tripod stands on a tabletop."},
    {"id": "gimbal", "title": "DJI Osmo Mobile 6 Smartphone Gimbal Stabilizer", "category": "Cellphones > Accessories",
     "brand": "DJI", "price": 159.0, "description": "Three-axis stabilisation for smooth phone video.",
     "image": "https://img.example/gimbal.jpg"},
    {"id": "s20", "title": "SAMSUNG Galaxy S20 FE 5G Cell Phone, 128GB", "category": "Cellphones > Phones",
     "brand": "SAMSUNG", "price": 599.99, "description": "A 6.5 inch screen and a triple camera."},
    {"id": "pixel", "title": "Google Pixel 6a 5G Android Phone, 128GB", "category": "Cellphones > Phones",
     "brand": "Google", "price": 449.0, "description": "Pixel camera with Night Sight."},
    {"id": "oneplus", "title": "OnePlus 10 Pro 5G Android Phone, 128GB", "category": "Cellphones > Phones",
     "brand": "OnePlus", "price": 799.99, "description": "Hasselblad camera and fast charging."},
    {"id": "guest", "title": "The Guest List: A Novel by Lucy Foley", "category": "Books > Thrillers", "price": 27.99,
     "description": "A REESE'S BOOK CLUB PICK ONE OF THE NEW YORK TIMES BEST THRILLERS OF THE YEAR. \u201cI loved "
                    "this book.\u201d On an island off the coast of Ireland, guests gather for a wedding. The bride "
                    "is a magazine publisher. Someone will not survive the night.",
     "attributes": {"author": "Lucy Foley", "genre": "Thrillers"}},
    {"id": "summers", "title": "Billy Summers by Stephen King", "category": "Books > Thrillers", "price": 30.0,
     "description": "Master storyteller Stephen King presents a new novel. He is a killer for hire and the best in "
                    "the business. Billy wants out after one last hit.",
     "attributes": {"author": "Stephen King", "genre": "Thrillers", "rating": "4.6/5"}},
    {"id": "1922", "title": "1922 by Stephen King", "category": "Books > Horror", "price": 9.71,
     "description": "A farmer plots to murder his wife in rural Nebraska.",
     "attributes": {"author": "Stephen King", "genre": "Horror", "rating": "4.7/5"}},
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory, embedder):
    return _index_from([item_from_row(r) for r in ROWS], tmp_path_factory.mktemp("relayed"), embedder, "relayed")


@pytest.fixture(scope="module")
def agent(shop):
    return build_agent(SETTINGS, index=shop, llm=None)


def _item(shop, item_id):
    return shop.items[shop.position[item_id]]


def test_a_message_names_items_by_short_title_brand_and_model_words_or_photo_url(shop) -> None:
    ids = lambda text: [i.item_id for i in named_items(text, shop)]  # noqa: E731
    assert ids("Sure, we have two books by Stephen King: 1922 and Billy Summers") == ["1922", "summers"]
    assert ids("Or I can recommend The Guest List by Lucy Foley") == ["guest"]
    assert ids("if you need stabilisation I suggest this https://img.example/gimbal.jpg") == ["gimbal"]
    assert ids("we have a google pixel 6a") == ["pixel"]
    # talk about things the shop does not have, or about a kind of product, names no item
    assert ids("We have the Apple iPhone 7 for 220$") == []
    assert ids("We have some nice phones with great cameras") == []
    assert ids("Do you have any preference for the delivery?") == []


def test_after_a_colleague_names_a_product_it_is_what_the_shopper_asks_about(agent, shop) -> None:
    s = agent.new_session()
    agent.reply(s, "I need a phone accessory for videos")
    noted = agent.note_assistant(s, "If you need stabilisation I suggest this https://img.example/gimbal.jpg")
    assert noted.act == "relayed" and [p.item.item_id for p in noted.picks] == ["gimbal"]
    turn = agent.reply(s, "how muhc is it")
    assert turn.act == "answer" and price_text(_item(shop, "gimbal").price) in turn.text
    turn = agent.reply(s, "is this cheaper?")  # a question about its price, not a critique asking for new picks
    assert turn.act == "answer" and not turn.picks and price_text(159.0) in turn.text


def test_ordinals_and_they_refer_to_the_items_the_colleague_named_in_order(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "Sure, we have two books by Stephen King 1922 and Billy Summers")
    turn = agent.reply(s, "how much is the second one?")
    assert price_text(_item(shop, "summers").price) in turn.text
    assert price_text(_item(shop, "1922").price) not in turn.text
    turn = agent.reply(s, "what one is the most popular one?")  # by customer rating: 4.7 beats 4.6
    assert turn.act == "compare" and re.search(r"(The )?1922[^.]* is rated higher", turn.text)  # a book: no "the"
    turn = agent.reply(s, "which titles are they? I think I read the second one")
    assert "1922" in turn.text and "Billy Summers" in turn.text


def test_a_suggested_reply_keeps_the_needs_but_is_not_shown(agent) -> None:
    s = agent.new_session()
    turn = agent.suggest(s, "a phone under $500 please")
    assert turn.picks and all(p.item.price <= 500 for p in turn.picks)
    assert s.state.shown == [] and not any(t.role == "assistant" for t in s.turns)
    assert any(p.attribute == "max_price" for p in s.state.preferences)  # the budget the shopper said is kept


def test_an_attribute_the_record_lacks_is_read_off_the_title_with_its_unit(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "The best option I have for paper is Hammermill Printer Paper 4000 sheets")
    turn = agent.reply(s, "Cool, how heavy is that paper? I need 70 lbs")
    assert turn.act == "answer" and "20 Lb" in turn.text
    agent.note_assistant(s, "Then there is the Sensyne ring light")
    turn = agent.reply(s, "And may I know its size? My room is not so big")
    assert turn.act == "answer" and "10''" in turn.text and "50''" in turn.text
    turn = agent.reply(s, "What colour is this light?")  # the record names colour modes, not a colour it comes in
    assert turn.act == "answer" and "colour" in turn.text.lower()


def test_what_a_book_is_about_skips_the_praise(agent) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "Have you read The Guest List by Lucy Foley?")
    turn = agent.reply(s, "what is the plot?")
    assert "wedding" in turn.text and "NEW YORK TIMES" not in turn.text


def test_currency_questions_are_answered_and_foreign_amounts_handed_over(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "Billy Summers would be a good fit")
    turn = agent.reply(s, "And which currency is that? USD?")
    assert turn.act == "answer" and "US dollars" in turn.text and price_text(30.0) in turn.text
    turn = agent.reply(s, "could you find phones with a price around the 1000nok ?")
    assert turn.act == "handoff" and turn.handoff and not turn.picks


def test_do_you_have_a_brand_in_this_price_range_is_a_request_not_a_question_about_the_pick(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "we have a google pixel 6a")
    turn = agent.reply(s, "Do you have a samsung in this price range")
    samsung = [i.item_id for i in shop.items if (i.brand or "").lower() == "samsung"]
    assert turn.picks and {p.item.item_id for p in turn.picks} <= set(samsung)


def test_what_a_brand_is_known_for_is_not_guessed(agent) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "I found the DJI Osmo Mobile 6")
    turn = agent.reply(s, "What are the advantages of that brand?")
    assert turn.act == "handoff" and turn.handoff and "DJI" not in turn.text


def test_a_title_the_catalog_lacks_stays_what_it_means_until_something_else_is_shown(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "Billy Summers is great")
    agent.note_assistant(s, "Ok just a minute, I have Monstrous Intent, a best seller")
    turn = agent.reply(s, "what's the price?")  # not Billy Summers': the colleague moved on to a book we lack
    assert "Monstrous Intent" in turn.text and price_text(30.0) not in turn.text and not turn.picks
    turn = agent.reply(s, "How many pages is the Big Book of Horror?")
    assert "Big Book of Horror" in turn.text and not re.search(r"\d+ pages", turn.text)
    turn = agent.reply(s, "What is the price of that book?")
    assert "Big Book of Horror" in turn.text and "$" not in turn.text


def test_a_colour_or_size_the_records_do_not_list_is_not_made_up(agent, shop) -> None:
    s = agent.new_session()
    agent.note_assistant(s, "I suggest this https://img.example/gimbal.jpg")
    turn = agent.reply(s, "do u have a pink color?")
    assert turn.act == "answer" and "pink" in turn.text and not turn.text.startswith("Yes") and not turn.picks
    turn = agent.reply(s, "do you have size 7 of them?")
    assert turn.act == "handoff" and turn.handoff and not turn.text.startswith("Yes")


def test_an_english_message_with_as_is_not_portuguese() -> None:
    from agent.language import language_of

    assert language_of("As long as both are under $200.") == ""
    assert language_of("quero um presente para minha mãe, algo com bateria") == "pt"


def test_actually_something_else_instead_switches_the_kind_of_product(agent, shop) -> None:
    s = agent.new_session()
    agent.reply(s, "a thriller book for my dad under 30")
    turn = agent.reply(s, "actually, do you have any phones instead?")
    phones = {i.item_id for i in shop.items if "Phones" in i.category}
    assert turn.picks and {p.item.item_id for p in turn.picks} <= phones


def test_the_cheapest_when_nothing_fits_the_budget_is_the_cheapest_past_it(agent, shop) -> None:
    s = agent.new_session()
    agent.reply(s, "a phone under $100")
    turn = agent.reply(s, "whats the cheapest one you have")
    cheapest = min((i for i in shop.items if "Phones" in i.category), key=lambda i: i.price)
    assert turn.picks and turn.picks[0].item.item_id == cheapest.item_id
    assert "price limit" in turn.text  # said, not silently dropped
