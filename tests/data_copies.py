"""A labelled set for near-duplicate statements: which pairs are one statement, which are not.

Written for the tests (not copied from anywhere). Positives are one release as republished
elsewhere: a news service adding its own introduction and credit line, an embassy adding a
header and a contact footer, small edits, a shortened version. Negatives are the hard cases:
spokesperson statements built on one long template around different content (every source here
has other statements in its history, so its template can be learned), two statements on the
same subject with different content, and translations (never merged: different languages).

``FEEDS`` maps a source to its earlier statements (its history); ``PAIRS`` are
(source A, text A, source B, text B, same statement?).
"""

from __future__ import annotations

ICJ = (
    "ICJ delivers its Order on the request for provisional measures in the case concerning "
    "the Convention against Torture. The International Court of Justice today delivered its "
    "Order on the request for the indication of provisional measures submitted by Canada and "
    "the Netherlands. The Court found that the State concerned shall, in accordance with its "
    "obligations under the Convention, take all measures within its power to prevent acts of "
    "torture and other cruel, inhuman or degrading treatment, and shall ensure the "
    "preservation of any evidence related to the allegations. The Order is binding."
)
OHCHR = (
    "Experts alarmed by reports of arbitrary detention of human rights defenders. Geneva. "
    "United Nations experts today expressed grave concern at reports that at least fourteen "
    "human rights defenders have been detained without charge since January, several of them "
    "held incommunicado in undisclosed locations. The experts urged the authorities to "
    "disclose their fate and whereabouts, to grant them prompt access to lawyers and family, "
    "and to release all those detained solely for their peaceful human rights work."
)
FR_MFA = (
    "Déclaration de la porte-parole sur la situation humanitaire. La France condamne avec la "
    "plus grande fermeté les frappes qui ont touché hier un convoi humanitaire des Nations "
    "unies, faisant plusieurs victimes parmi le personnel humanitaire. Elle rappelle que le "
    "droit international humanitaire impose la protection des travailleurs humanitaires et "
    "appelle toutes les parties à garantir un accès humanitaire sûr, rapide et sans entrave "
    "aux populations civiles. La France se tient aux côtés des agences des Nations unies."
)
NL_MFA = (
    "Nederland en Canada leggen zaak voor aan het Internationaal Gerechtshof. Nederland en "
    "Canada hebben vandaag gezamenlijk een zaak aanhangig gemaakt bij het Internationaal "
    "Gerechtshof over schendingen van het Verdrag tegen foltering. Beide landen vragen het Hof "
    "om vast te stellen dat de verdragsverplichtingen zijn geschonden en om voorlopige "
    "maatregelen te treffen om verdere schade aan slachtoffers te voorkomen. De minister "
    "noemde de stap een belangrijk signaal dat straffeloosheid niet wordt geaccepteerd."
)
AR_MFA = (
    "بيان صحفي بشأن قانون قيصر. أعربت الوزارة اليوم عن قلقها البالغ إزاء التداعيات الإنسانية "
    "للعقوبات المفروضة بموجب قانون قيصر على المدنيين، ودعت إلى ضمان وصول المساعدات الإنسانية "
    "والطبية دون عوائق إلى جميع المناطق. وأكدت الوزارة أن أي إجراءات يجب أن تحترم القانون "
    "الدولي الإنساني وأن تراعي احتياجات السكان الأكثر ضعفا، مشيرة إلى استعدادها للتعاون مع "
    "الشركاء الدوليين والمنظمات الإنسانية من أجل تخفيف المعاناة."
)
CAESAR_EN = (
    "Treasury designates network supporting sanctions evasion under the Caesar Act. The "
    "Department of the Treasury today designated eleven individuals and six companies for "
    "operating a network that procured fuel and weapons components in violation of the Caesar "
    "Act. The designated persons used front companies in three countries to move payments. "
    "As a result of today's action, all property and interests in property of the designated "
    "persons in the United States are blocked and must be reported."
)

UN_NEWS_INTRO = "UN News. "
UN_NEWS_CREDIT = (
    " This story was published by UN News, the United Nations news service; follow us for "
    "the latest updates."
)
EMBASSY_HEADER = "Embassy of the Netherlands. Press release. "
EMBASSY_FOOTER = (
    " For press enquiries please contact the press office of the embassy by e-mail or by "
    "telephone during office hours."
)


def _edit(text: str, *swaps: tuple[str, str]) -> str:
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _shorten(text: str, sentences: int) -> str:
    return ". ".join(text.split(". ")[:sentences]) + "."


# A spokesperson's template: long fixed text around a short statement of substance.
TEMPLATE = (
    "Statement attributable to the Spokesperson for the Secretary-General on {place}. The "
    "Secretary-General is following developments in {place} with deep concern. {core} The "
    "Secretary-General calls on all parties to exercise maximum restraint, to respect their "
    "obligations under international humanitarian law and international human rights law, "
    "and to ensure the protection of civilians and civilian infrastructure at all times. The "
    "United Nations remains committed to supporting all efforts towards a peaceful and lasting "
    "solution, and stands ready to assist the people of {place}."
)
CORES = {
    "Yemen": "He condemns the attack on the port of Hodeidah, which reportedly killed six "
    "dock workers, and urges an immediate investigation.",
    "Sudan": "He is appalled by the reported killing of dozens of civilians in a market in "
    "El Fasher and the shelling of the only functioning hospital.",
    "Haiti": "He welcomes the agreement reached by the transitional council on the electoral "
    "calendar and encourages its swift implementation.",
    "Myanmar": "He is alarmed by airstrikes on villages in Sagaing that destroyed two "
    "schools, and calls for the release of all arbitrarily detained persons.",
    "Libya": "He notes with concern the clashes in Tripoli overnight and urges the parties "
    "to return to the ceasefire arrangements agreed in Geneva.",
    "Mali": "He deplores the attack on a convoy near Gao in which peacekeepers were injured "
    "and extends his wishes for a swift recovery.",
}
FR_TEMPLATE = (
    "Déclaration du porte-parole du ministère sur {place}. Le ministère suit avec la plus "
    "grande attention la situation en {place}. {core} Le ministère appelle toutes les parties "
    "à faire preuve de la plus grande retenue, à respecter le droit international humanitaire "
    "et à garantir la protection des civils en toutes circonstances. La France continuera "
    "d'apporter son plein soutien aux efforts de médiation en cours."
)
FR_CORES = {
    "Syrie": "Il condamne les bombardements qui ont frappé Idlib cette nuit et causé la mort "
    "de plusieurs enfants.",
    "Liban": "Il salue la formation du nouveau gouvernement et encourage la mise en œuvre "
    "rapide des réformes attendues.",
    "Ukraine": "Il condamne les frappes de drones contre des infrastructures énergétiques qui "
    "privent des millions de personnes d'électricité en plein hiver.",
    "Niger": "Il exprime sa préoccupation face à la détention prolongée du président élu et "
    "demande sa libération immédiate.",
    "Soudan": "Il dénonce les violences sexuelles commises au Darfour et appelle à ce que "
    "leurs auteurs répondent de leurs actes.",
}


def _spokesperson(place: str) -> str:
    return TEMPLATE.format(place=place, core=CORES[place])


def _porte_parole(place: str) -> str:
    return FR_TEMPLATE.format(place=place, core=FR_CORES[place])


FEEDS: dict[str, list[str]] = {
    "un-sg": [_spokesperson("Haiti"), _spokesperson("Myanmar")],
    "un-sg-mirror": [_spokesperson("Libya"), _spokesperson("Mali")],
    "fr-mfa": [_porte_parole("Liban"), _porte_parole("Ukraine"), FR_MFA],
    "fr-embassy": [_porte_parole("Syrie"), _porte_parole("Niger")],
    "un-news": [OHCHR + UN_NEWS_CREDIT],
    "nl-embassy": [EMBASSY_HEADER + NL_MFA + EMBASSY_FOOTER],
    "icj": [],
    "ohchr": [],
    "nl-mfa": [],
    "ar-mfa": [],
    "treasury": [],
    "ar-news": [],
    "wire": [],
}

PAIRS: list[tuple[str, str, str, str, bool]] = [
    # one statement, republished
    ("icj", ICJ, "un-news", UN_NEWS_INTRO + ICJ + UN_NEWS_CREDIT, True),
    ("ohchr", OHCHR, "un-news", UN_NEWS_INTRO + OHCHR + UN_NEWS_CREDIT, True),
    ("nl-mfa", NL_MFA, "nl-embassy", EMBASSY_HEADER + NL_MFA + EMBASSY_FOOTER, True),
    ("fr-mfa", FR_MFA, "fr-embassy", "Ambassade de France. " + FR_MFA, True),
    ("ar-mfa", AR_MFA, "ar-news", "وكالة الأنباء. " + AR_MFA, True),
    ("treasury", CAESAR_EN, "wire", CAESAR_EN.replace("today ", "on Tuesday "), True),
    (
        "icj",
        ICJ,
        "wire",
        _edit(ICJ, ("The Order is binding.", "The Order is binding on the parties.")).replace(
            "torture", "torture,"
        ),
        True,
    ),
    ("ohchr", OHCHR, "wire", _shorten(OHCHR, 3), True),
    (
        "treasury",
        CAESAR_EN,
        "un-news",
        _edit(CAESAR_EN, ("eleven", "11"), ("six", "6")) + UN_NEWS_CREDIT,
        True,
    ),
    ("un-sg", _spokesperson("Yemen"), "un-news", UN_NEWS_INTRO + _spokesperson("Yemen"), True),
    (
        "fr-mfa",
        _porte_parole("Soudan"),
        "fr-embassy",
        "Ambassade de France. " + _porte_parole("Soudan"),
        True,
    ),
    # not the same statement: one template, different substance
    ("un-sg", _spokesperson("Yemen"), "un-sg-mirror", _spokesperson("Sudan"), False),
    ("un-sg", _spokesperson("Sudan"), "un-sg-mirror", _spokesperson("Haiti"), False),
    ("un-sg-mirror", _spokesperson("Libya"), "un-sg", _spokesperson("Mali"), False),
    ("fr-mfa", _porte_parole("Syrie"), "fr-embassy", _porte_parole("Soudan"), False),
    ("fr-embassy", _porte_parole("Liban"), "fr-mfa", _porte_parole("Syrie"), False),
    # not the same statement: same subject, different content
    ("icj", ICJ, "nl-mfa", NL_MFA, False),
    ("treasury", CAESAR_EN, "ar-mfa", AR_MFA, False),
    (
        "ohchr",
        OHCHR,
        "wire",
        "Experts alarmed by reports of arbitrary detention of journalists. Geneva. United "
        "Nations experts today called for the release of nine journalists arrested while "
        "covering protests, and asked the authorities to end the use of counter-terrorism "
        "laws against the press and to guarantee a fair trial to those still held.",
        False,
    ),
    # translations are separate statements for this purpose
    ("nl-mfa", NL_MFA, "icj", ICJ, False),
    ("fr-mfa", FR_MFA, "un-news", UN_NEWS_INTRO + OHCHR, False),
]
