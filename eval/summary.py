"""The evaluation in plain Finnish, for the people who commission the work: a short summary that opens the
report, and a plain name beside every technical metric."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Any

from eval.runner import QuestionResult

# A plain Finnish name for each metric, shown beside the technical one.
PLAIN_NAMES = {
    "recall@1": "oikea lähde ensimmäisenä",
    "recall@3": "oikea lähde kolmen ensimmäisen joukossa",
    "recall@5": "oikea lähde viiden ensimmäisen joukossa",
    "recall@10": "oikea lähde kymmenen ensimmäisen joukossa",
    "recall@20": "oikea lähde 20 ensimmäisen joukossa",
    "recall@100": "oikea lähde sadan ensimmäisen joukossa",
    "mrr@10": "kuinka ylhäällä ensimmäinen oikea lähde on",
    "ndcg@10": "kuinka hyvin oikeat lähteet ovat kärjessä",
    "keyword_recall": "vastauksessa on odotetut asiat",
    "citation_precision": "lähdeviite osuu oikeaan kohtaan",
    "answered_with_citation": "vastasi ja kertoi lähteen",
    "refusal_accuracy": "tunnisti, ettei aineisto vastaa",
    "false_refusal_rate": "jätti turhaan vastaamatta",
    "answerable_auc": "vastattavuusmalli erottaa vastattavat kysymykset muista (0,5 = arvaus)",
    "reader_question_auc": "lukija erottaa vastattavat kysymykset muista (0,5 = arvaus)",
}

# Plot titles and axis labels a non-engineer reads.
PLOT_TEXT = {
    "recall": ("Kuinka usein oikea lähde löytyy hakutulosten kärjestä",
               "tuloksia katsottu (k ensimmäistä)", "osuus kysymyksistä, joissa oikea lähde löytyi"),
    "by_type": ("Vastausten laatu kysymystyypeittäin (puuttuva pylväs: mittari ei koske tyyppiä)",
                "osuus (0–1)"),
    "latency": ("Vastausaika: kuinka monelle kysymykselle vastattiin missäkin ajassa",
                "vastausaika (millisekuntia)", "kysymyksiä"),
}


def with_plain_name(metric: str) -> str:
    """``recall@5 (oikea lähde viiden ensimmäisen joukossa)``; the metric as is when it has no plain name."""
    plain = PLAIN_NAMES.get(metric)
    return f"{metric} ({plain})" if plain else metric


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


def plain_summary(results: Sequence[QuestionResult], metrics: dict[str, Any]) -> list[str]:
    """Markdown lines: what the evaluation found, in plain Finnish, with the counts behind each figure."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    right = sum(1 for r in answerable if not r.failure)
    refused_right = sum(1 for r in unanswerable if r.answer.not_found)
    refused_wrong = sum(1 for r in answerable if r.answer.not_found)
    hybrid = metrics.get("retrievers", {}).get("hybrid", {})
    found, first = hybrid.get("recall@5"), hybrid.get("recall@1")
    lines = [
        "## Yhteenveto", "",
        f"Kysy-avustajalta kysyttiin {len(results)} kysymystä, joiden oikeat vastaukset ja lähteet tunnetaan.", "",
        f"- **{len(answerable)} vastattavasta kysymyksestä {right} ({_share(right, len(answerable))}) sai oikean "
        "vastauksen lähteineen**: vastauksessa oli odotetut asiat ja viite osoitti oikeaan asiakirjaan.",
    ]
    if unanswerable:
        lines.append(
            f"- **{len(unanswerable)} kysymyksestä, joihin aineisto ei vastaa, {refused_right} "
            f"({_share(refused_right, len(unanswerable))}) tunnistettiin**: avustaja kertoi, ettei aineistosta "
            "löydy vastausta, eikä keksinyt sitä."
        )
    lines.append(f"- Vastattavista kysymyksistä {refused_wrong} jäi turhaan vastaamatta.")
    if found is not None:
        cross = (metrics.get("hybrid_cross_validated") or {}).get("recall@1")
        held_out = f" (ristiinvalidoituna {round(100 * cross)} %:ssa)" if cross is not None else ""
        at_first = f" ja ensimmäisenä {round(100 * first)} %:ssa{held_out}" if first is not None else ""
        lines.append(f"- Oikea lähde oli haun viiden ensimmäisen tuloksen joukossa {round(100 * found)} %:ssa "
                     f"kysymyksistä{at_first}.")
    if results:
        lines.append(f"- Tyypillinen vastausaika oli {median(r.ms for r in results):.0f} millisekuntia.")
    lines += ["", "Tekniset mittarit ja niiden selitykset ovat alla; jokaisen rinnalla on sen nimi selkokielellä.", ""]
    return lines
