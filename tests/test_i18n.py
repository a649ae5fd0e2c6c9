"""Haven in Armenian and Russian: the pages a registrar works in, the language switcher, and the
catalogues themselves (complete, nothing fuzzy, and the compiled .mo the same as its .po).

The setup does not install gettext, so the compiled catalogues are committed; the catalogue tests
are what keep a .po edited without recompiling (or a string left untranslated) from shipping.
"""

import ast
import gettext
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from haven.core.models import User
from haven.registry.actions import register_household
from haven.registry.models import Household, Person
from haven.registry.schemas import _PYDANTIC_MESSAGES, NAME_PROBLEMS, HouseholdIn
from tests import factories
from tests.api_support import token_for
from tests.conftest import PASSWORD, Personas, sign_in

DESK = "/desk/"
LIST = "/registrations/"
LOGIN = "/login/"
SET_LANGUAGE = "/i18n/setlang/"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


@pytest.fixture(autouse=True)
def _back_to_the_default_language() -> Iterator[None]:
    """LocaleMiddleware leaves the last request's language active in this thread: reset it."""
    yield
    translation.deactivate()


def _client(user: User, language: str | None = None) -> Client:
    client = Client(headers={"accept-language": language} if language else {})
    sign_in(client, user)
    return client


def _html(response: Any) -> str:
    return unescape(str(response.content.decode()))


def _register(user: User, *, size: int) -> Household:
    assert user.site is not None
    payload = factories.household(site=user.site.code, size=size)
    household, _created = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=user
    )
    return household


# --- pages ------------------------------------------------------------------------------------

LOGIN_TEXT = {
    "hy": ["Մուտք Haven համակարգ", "Օգտանուն", "Գաղտնաբառ", ">Մուտք</button>"],
    "ru": ["Вход в Haven", "Имя пользователя", "Пароль", ">Войти</button>"],
}


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_login_page_speaks_the_browsers_language(db: None, language: str) -> None:
    response = Client(headers={"accept-language": f"{language},en;q=0.5"}).get(LOGIN)

    assert response.status_code == 200
    html = _html(response)
    assert f'<html lang="{language}">' in html
    for text in LOGIN_TEXT[language]:
        assert text in html
    assert "Sign in to Haven" not in html
    assert "Username" not in html


def test_the_login_page_is_english_by_default(db: None) -> None:
    html = _html(Client().get(LOGIN))

    assert '<html lang="en">' in html
    assert "Sign in to Haven" in html


DESK_TEXT = {
    "hy": [
        "Գրանցել ընտանիք",  # the heading
        "Գրանցել ընտանիքը",  # the button
        "Ավելացնել անդամ",
        "Անդամ 1",
        "Նախկին բնակավայր",
        "Ընտանիքի հեռախոս",
        "Անուն",
        "Ազգանուն",
        "Հայրանուն",
        "Ծննդյան ամսաթիվ",
        'placeholder="ՏՏՏՏ-ԱԱ-ՕՕ"',
        "Ազգակցական կապ",
        "Փաստաթղթի համար",
        "Հատուկ կարիքներ",
        "ՄԱԿ ՓԳՀ հատուկ կարիքների կոդեր",
        # choices of the models
        "F · իգական",
        "M · արական",
        ">ընտանիքի գլուխ</option>",
        ">ամուսին</option>",
        ">եղբայր կամ քույր</option>",
        ">Լեռնային Ղարաբաղի անձնագիր</option>",
        ">ծննդյան վկայական</option>",
        # the header: role, navigation and the script names the page's script shows
        "գրանցող",
        ">Գրանցվածներ</a>",
        ">Ելք</button>",
        'data-script-armenian="Հայատառ"',
        'data-script-cyrillic="Կյուրեղագիր"',
    ],
    "ru": [
        "Зарегистрировать семью",
        "Добавить члена семьи",
        "Член семьи 1",
        "Прежнее место жительства",
        "Телефон семьи",
        "Имя",
        "Фамилия",
        "Отчество",
        "Дата рождения",
        'placeholder="ГГГГ-ММ-ДД"',
        "Родство",
        "Номер документа",
        "Особые потребности",
        "Коды особых потребностей УВКБ ООН",
        "F · женский",
        "M · мужской",
        ">глава семьи</option>",
        ">супруг(а)</option>",
        ">брат или сестра</option>",
        ">паспорт Нагорного Карабаха</option>",
        ">свидетельство о рождении</option>",
        "регистратор",
        ">Зарегистрированные</a>",
        ">Выйти</button>",
        'data-script-armenian="Армянский"',
        'data-script-cyrillic="Кириллица"',
    ],
}


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_desk_is_translated(personas: Personas, language: str) -> None:
    response = _client(personas.bob, language).get(DESK)

    assert response.status_code == 200
    html = _html(response)
    for text in DESK_TEXT[language]:
        assert text in html, text
    for english in ("Register household", "Add member", "Patronymic", "head of household"):
        assert english not in html
    # Names of sites are data, not interface: they stay as entered.
    assert "Goris hub" in html


# The count line's plural forms: Armenian has one form after a number, Russian three.
COUNT_LINE = {
    ("hy", 1): "Ձեր կետերում գրանցված է 1 մարդ։",
    ("hy", 3): "Ձեր կետերում գրանցված է 3 մարդ։",
    ("ru", 1): "На ваших пунктах зарегистрирован 1 человек.",
    ("ru", 3): "На ваших пунктах зарегистрировано 3 человека.",
    ("ru", 5): "На ваших пунктах зарегистрировано 5 человек.",
}
LIST_TEXT = {
    "hy": ["Գրանցվածներ", "Ընտանիք", "գրանցվել է", "Անուն ազգանուն", "Որոնել", "Սեռ"],
    "ru": ["Зарегистрированные", "Семья", "зарегистрирована", "ФИО", "Найти", "Пол"],
}
RELATIONSHIPS = {
    "hy": ["ընտանիքի գլուխ", "ամուսին", "երեխա"],
    "ru": ["глава семьи", "супруг(а)", "ребёнок"],
}


@pytest.mark.parametrize(("language", "size"), sorted(COUNT_LINE))
def test_the_registrations_list_is_translated(personas: Personas, language: str, size: int) -> None:
    _register(personas.bob, size=size)

    response = _client(personas.bob, language).get(LIST)

    assert response.status_code == 200
    html = _html(response)
    assert COUNT_LINE[language, size] in html
    for text in LIST_TEXT[language]:
        assert text in html, text
    shown = RELATIONSHIPS[language][: min(size, 3)]
    for relationship in shown:
        assert f"<td>{relationship}</td>" in html, relationship
    assert "people registered at your sites" not in html
    assert "person registered at your sites" not in html


def test_a_search_with_no_result_is_translated(personas: Personas) -> None:
    _register(personas.bob, size=2)

    html = _html(_client(personas.bob, "ru").get(LIST, {"q": "Петросян"}))

    assert "По запросу «Петросян» найдено 0 человек." in html
    assert "Никого не найдено." in html


def test_a_registration_at_the_desk_is_confirmed_in_the_registrars_language(
    personas: Personas,
) -> None:
    client = _client(personas.bob, "hy")
    page = client.get(DESK)
    form = page.context["form"]
    data = {
        "household_uuid": form.household_uuid,
        "origin_settlement": "Ստեփանակերտ",
        "phone": "+374 97 000111",
        "action": "register",
        "m-0-uuid": form.rows[0].values["uuid"],
        "m-0-given_name": "Հասմիկ",
        "m-0-family_name": "Հարությունյան",
        "m-0-sex": "F",
        "m-0-birth_date": "1980-05-17",
        "m-0-relationship": "head",
    }

    response = client.post(DESK, data, follow=True)

    assert response.status_code == 200
    html = _html(response)
    short = form.household_uuid[:8]
    assert f"Ընտանիքը գրանցվեց (գլուխ՝ Հասմիկ Հարությունյան, {short}). 1 անդամ։" in html
    assert Person.objects.count() == 1


def test_desk_errors_are_summed_up_in_the_registrars_language(personas: Personas) -> None:
    client = _client(personas.bob, "ru")
    page = client.get(DESK)
    form = page.context["form"]
    data = {
        "household_uuid": form.household_uuid,
        "action": "register",
        "m-0-uuid": form.rows[0].values["uuid"],
        "m-0-given_name": "",
        "m-0-family_name": "Арутюнян",
        "m-0-sex": "M",
        "m-0-birth_date": "1978",
        "m-0-relationship": "head",
    }

    response = client.post(DESK, data)

    assert response.status_code == 200
    html = _html(response)
    assert "Найдена 1 ошибка; ничего не сохранено." in html
    assert "Член семьи 1 — Имя" in html
    assert Household.objects.count() == 0
    assert Person.objects.count() == 0


# --- validation messages ----------------------------------------------------------------------

EMPTY_NAME = {"hy": "չպետք է դատարկ լինի", "ru": "не должно быть пустым"}
# 1980 is a leap year: February has 29 days, and the year and month keep their zero padding.
NO_SUCH_DAY = {
    "hy": "նշված է 30 օրը, բայց 1980-02 ամսում կա 29 օր",
    "ru": "указан день 30, но дней в месяце 1980-02: 29",
}
ONE_OF = {"hy": "պետք է լինի հետևյալներից մեկը՝ ", "ru": "должно быть одним из значений: "}


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_desk_error_on_a_field_is_in_the_registrars_language(
    personas: Personas, language: str
) -> None:
    client = _client(personas.bob, language)
    form = client.get(DESK).context["form"]
    data = {
        "household_uuid": form.household_uuid,
        "action": "register",
        "m-0-uuid": form.rows[0].values["uuid"],
        "m-0-given_name": "",
        "m-0-family_name": "Հարությունյան",
        "m-0-sex": "F",
        "m-0-birth_date": "1980-05-17",
        "m-0-relationship": "head",
    }

    response = client.post(DESK, data)

    assert response.status_code == 200
    html = _html(response)
    assert EMPTY_NAME[language] in html
    assert "must not be empty" not in html
    assert Household.objects.count() == 0
    assert Person.objects.count() == 0


@pytest.mark.parametrize("language", TRANSLATED)
def test_api_validation_errors_are_in_the_clients_language(
    personas: Personas, language: str
) -> None:
    payload = factories.household(site="GORIS", size=1)
    payload["members"][0].update(birth_date="1980-02-30", sex="X")
    client = Client(
        headers={"accept-language": language, "authorization": f"Bearer {token_for(personas.bob)}"}
    )

    response = client.post("/api/households", payload, content_type="application/json")

    assert response.status_code == 422
    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert messages["members.0.birth_date"] == NO_SUCH_DAY[language]
    sex = messages["members.0.sex"]
    assert sex.startswith(ONE_OF[language]), sex
    assert "'F'" in sex
    assert "'M'" in sex
    assert set(messages) == {"members.0.birth_date", "members.0.sex"}
    assert Household.objects.count() == 0
    assert Person.objects.count() == 0


@pytest.mark.parametrize("language", TRANSLATED)
def test_api_validation_errors_stay_english_without_a_language(
    personas: Personas, language: str
) -> None:
    """The same request with no Accept-Language: English, so the translated answers above are
    the header's doing (and a translation did not stick to the cached birth-date parse)."""
    payload = factories.household(site="GORIS", size=1)
    payload["members"][0].update(birth_date="1980-02-30", sex="X")
    client = Client(headers={"authorization": f"Bearer {token_for(personas.bob)}"})
    translated = Client(
        headers={"accept-language": language, "authorization": f"Bearer {token_for(personas.bob)}"}
    )
    translated.post("/api/households", payload, content_type="application/json")
    translation.deactivate()

    response = client.post("/api/households", payload, content_type="application/json")

    assert response.status_code == 422
    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert messages["members.0.birth_date"] == "has day 30, but 1980-02 has 29 days"
    assert messages["members.0.sex"].startswith("must be one of ")


def test_the_aggregates_page_names_the_role_in_the_users_language(personas: Personas) -> None:
    html = _html(_client(personas.erin, "hy").get("/"))

    assert "Միայն ամփոփ թվեր" in html
    assert "Որպես գործընկեր կազմակերպության վերլուծաբան՝ դուք տեսնում եք միայն ամփոփ թվեր" in html


# --- the language switcher --------------------------------------------------------------------


def _switcher(html: str) -> list[tuple[str, str, str]]:
    """(code, pressed, label) of each language button in the page's switcher."""
    form = html.split('<form class="lang"', 1)[1].split("</form>", 1)[0]
    return re.findall(
        r'<button type="submit" name="language" value="([a-z-]+)" lang="[a-z-]+"'
        r' aria-pressed="(true|false)">([^<]+)</button>',
        form,
    )


def test_the_switcher_offers_each_language_in_its_own_name(personas: Personas) -> None:
    html = _html(_client(personas.bob, "ru").get(DESK))

    assert _switcher(html) == [
        ("en", "false", "English"),
        ("hy", "false", "Հայերեն"),
        ("ru", "true", "Русский"),
    ]
    assert f'action="{SET_LANGUAGE}"' in html
    assert 'name="next" value="/desk/"' in html


def test_the_switcher_is_on_the_login_page(db: None) -> None:
    html = _html(Client().get(LOGIN))

    assert [code for code, _pressed, _label in _switcher(html)] == ["en", "hy", "ru"]


def test_switching_language_keeps_the_page_and_the_choice(personas: Personas) -> None:
    client = Client()
    assert client.login(username="bob", password=PASSWORD)

    response = client.post(SET_LANGUAGE, {"language": "hy", "next": DESK})

    assert response.status_code == 302
    assert response["Location"] == DESK
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "hy"
    # No Accept-Language header: the choice is what counts, on every later page.
    assert "Գրանցել ընտանիքը" in _html(client.get(DESK))
    assert "Գրանցվածներ" in _html(client.get(LIST))

    client.post(SET_LANGUAGE, {"language": "ru", "next": LIST})
    assert "Зарегистрированные" in _html(client.get(LIST))

    client.post(SET_LANGUAGE, {"language": "en", "next": LIST})
    assert "people registered at your sites" in _html(client.get(LIST))


def test_switching_before_signing_in_carries_over(personas: Personas) -> None:
    client = Client()
    client.post(SET_LANGUAGE, {"language": "ru", "next": LOGIN})

    assert "Вход в Haven" in _html(client.get(LOGIN))
    response = client.post(LOGIN, {"username": "bob", "password": PASSWORD}, follow=True)
    assert "Зарегистрировать семью" in _html(response)


def test_an_unknown_language_changes_nothing(personas: Personas) -> None:
    client = _client(personas.bob)
    client.post(SET_LANGUAGE, {"language": "ru", "next": DESK})

    response = client.post(SET_LANGUAGE, {"language": "xx", "next": DESK})

    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert "Зарегистрировать семью" in _html(client.get(DESK))


def test_the_switcher_does_not_redirect_to_another_host(personas: Personas) -> None:
    client = _client(personas.bob)

    response = client.post(SET_LANGUAGE, {"language": "hy", "next": "https://evil.example/"})

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- the catalogues ---------------------------------------------------------------------------

LOCALE = Path(settings.LOCALE_PATHS[0])
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdif]|%[sdif]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def _unquote(literal: str) -> str:
    value = ast.literal_eval(literal)
    assert isinstance(value, str)
    return value


def _read_po(path: Path) -> list[Entry]:
    """A .po file's entries, header included (msgid ""); enough of the format for Django's."""
    entries: list[Entry] = []
    entry = Entry()
    current: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, current, started
        if started:
            entries.append(entry)
        entry, current, started = Entry(), None, False

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match is not None:
            keyword, index, literal = match.groups()
            started = True
            if keyword.startswith("msgstr"):
                current = ("msgstr", int(index or 0))
                entry.msgstr[current[1]] = _unquote(literal)
            else:
                current = (keyword, 0)
                setattr(entry, keyword, _unquote(literal))
            continue
        assert line.startswith('"'), f"{path}: cannot read {line!r}"
        assert current is not None, f"{path}: a continuation line before any keyword"
        keyword, index_number = current
        if keyword == "msgstr":
            entry.msgstr[index_number] += _unquote(line)
        else:
            setattr(entry, keyword, (getattr(entry, keyword) or "") + _unquote(line))
    finish()
    return entries


def _catalogue(language: str) -> tuple[dict[str, str], list[Entry]]:
    entries = _read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
    header_entries = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    assert len(header_entries) == 1
    header = dict(
        line.split(": ", 1) for line in header_entries[0].msgstr[0].splitlines() if ": " in line
    )
    messages = [e for e in entries if e.msgid != "" and not e.obsolete]
    return header, messages


def _plural_count(header: dict[str, str]) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header["Plural-Forms"])
    assert match is not None
    return int(match.group(1))


def _placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in _PLACEHOLDER.finditer(text))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    header, messages = _catalogue(language)

    assert header["Language"] == language
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    plurals = _plural_count(header)
    assert len(messages) > 150  # the interface, not a stub
    untranslated = []
    for entry in messages:
        assert "fuzzy" not in entry.flags, entry.msgid
        expected_forms = plurals if entry.msgid_plural is not None else 1
        assert sorted(entry.msgstr) == list(range(expected_forms)), entry.msgid
        if not all(text.strip() for text in entry.msgstr.values()):
            untranslated.append(entry.msgid)
            continue
        # A translation that drops or invents a placeholder breaks the % formatting at runtime.
        if "python-format" in entry.flags:
            wanted = _placeholders(entry.msgid)
            for text in entry.msgstr.values():
                assert set(_placeholders(text)) == set(wanted), (entry.msgid, text)
    assert untranslated == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_header_of_the_po_is_not_fuzzy(language: str) -> None:
    entries = _read_po(LOCALE / language / "LC_MESSAGES" / "django.po")

    assert not any("fuzzy" in entry.flags for entry in entries)


def _read_mo(path: Path) -> dict[str, str]:
    """A compiled catalogue's strings as stored (GNU .mo format): key → translation.

    Keys are "context\x04msgid" or "msgid", with "\x00msgid_plural" for plurals; translations
    of plurals are their forms joined by "\x00". The header is the translation of "".
    """
    data = path.read_bytes()
    (magic,) = struct.unpack("<I", data[:4])
    order = "<" if magic == 0x950412DE else ">"
    magic, _revision, count, originals, translations = struct.unpack(f"{order}5I", data[:20])
    assert magic == 0x950412DE, f"{path} is not a .mo file"

    def string(table: int, index: int) -> str:
        length, offset = struct.unpack(
            f"{order}2I", data[table + 8 * index : table + 8 * index + 8]
        )
        return data[offset : offset + length].decode("utf-8")

    return {string(originals, i): string(translations, i) for i in range(count)}


def _as_stored(entry: Entry) -> tuple[str, str]:
    key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
    if entry.msgid_plural is not None:
        key += f"\x00{entry.msgid_plural}"
    return key, "\x00".join(entry.msgstr[i] for i in sorted(entry.msgstr))


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_the_po_compiled(language: str) -> None:
    """The .mo Django reads holds exactly the .po's translations: not stale, nothing missing."""
    _header, messages = _catalogue(language)
    mo_path = LOCALE / language / "LC_MESSAGES" / "django.mo"

    stored = _read_mo(mo_path)
    header = stored.pop("")
    assert f"Language: {language}" in header
    assert stored == dict(_as_stored(entry) for entry in messages)

    # And Python's own reader (the one Django uses) gives the same answers.
    with mo_path.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    translated = 0
    for entry in messages:
        if entry.msgid_plural is None:
            if entry.msgctxt is None:
                assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid
            else:
                got = compiled.pgettext(entry.msgctxt, entry.msgid)
                assert got == entry.msgstr[0], entry.msgid
        else:
            for count in (1, 2, 5, 21):
                assert compiled.ngettext(entry.msgid, entry.msgid_plural, count) in set(
                    entry.msgstr.values()
                )
        translated += 1
    assert translated == len(stored) == len(messages)


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("ru", 1, "Найдена 1 ошибка; ничего не сохранено."),
        ("ru", 3, "Найдены 3 ошибки; ничего не сохранено."),
        ("ru", 11, "Найдено 11 ошибок; ничего не сохранено."),
        ("ru", 21, "Найдена 21 ошибка; ничего не сохранено."),
        ("hy", 1, "Կա 1 խնդիր. ոչինչ չի պահպանվել։"),
        ("hy", 4, "Կա 4 խնդիր. ոչինչ չի պահպանվել։"),
    ],
)
def test_plural_forms_follow_the_languages_rules(language: str, count: int, expected: str) -> None:
    with translation.override(language):
        text = translation.ngettext(
            "There is %(counter)s problem; nothing was saved.",
            "There are %(counter)s problems; nothing was saved.",
            count,
        ) % {"counter": count}

    assert text == expected


# --- the catalogues against the code ----------------------------------------------------------

VALIDATION_MESSAGES = sorted(
    {str(key): message for key, message in {**NAME_PROBLEMS, **_PYDANTIC_MESSAGES}.items()}.items()
)


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize(("code", "message"), VALIDATION_MESSAGES)
def test_every_validation_message_is_translated(language: str, code: str, message: Any) -> None:
    with translation.override("en"):
        english = str(message)
    with translation.override(language):
        translated = str(message)

    assert translated != english, (language, code)
    assert _placeholders(translated) == _placeholders(english), (language, code)


_GETTEXT_FUNCTIONS = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext"}


def _msgids_in_python() -> set[str]:
    """The literal msgids of every gettext call in Haven's Python, as makemessages extracts them.

    xgettext does not look inside f-strings, so a call there is skipped here too (and is never
    translated: such a call is a bug of its own, which this test cannot see).
    """
    found: set[str] = set()
    for path in Path(settings.BASE_DIR).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_fstrings = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in in_fstrings:
                continue
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in _GETTEXT_FUNCTIONS or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_gettext_string_in_the_code_is_in_the_catalogue(language: str) -> None:
    """makemessages would add nothing from the Python: each literal msgid has a translation."""
    _header, messages = _catalogue(language)
    catalogued = {entry.msgid for entry in messages}

    in_code = _msgids_in_python()

    assert len(in_code) > 100
    assert sorted(in_code - catalogued) == []
