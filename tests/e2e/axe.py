"""axe-core in the browser journeys: the vendored ``vendor/axe-core/axe.min.js`` (npm
``axe-core``, with its licence) is evaluated in the page and run; a violation of impact
``serious`` or ``critical`` fails the journey, with the rule, the page and the elements."""

from __future__ import annotations

from pathlib import Path

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
FAILING_IMPACTS = frozenset({"serious", "critical"})
# WCAG 2.1 A and AA, best practices, and the rule that the accessible name of a control
# holds its visible text (label-content-name-mismatch is one of axe's experimental rules).
RUN_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "rules": {"label-content-name-mismatch": {"enabled": True}},
    "resultTypes": ["violations"],
}


def axe_violations(page) -> list[dict]:
    """The serious and critical violations axe-core finds in ``page`` as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP does not apply to it.
        page.evaluate(AXE_SOURCE)
    results = page.evaluate("options => window.axe.run(document, options)", RUN_OPTIONS)
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


class AxeAudit:
    """Collects the pages a journey checks and what axe found on each."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.found: dict[str, list[dict]] = {}

    def check(self, page, label: str) -> None:
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        self.checked.append(label)
        if violations:
            self.found[label] = violations

    def assert_clean(self) -> None:
        assert self.found == {}, "\n".join(
            f"{label}: {violation['impact']} {violation['rule']} ({violation['help']}) "
            f"at {violation['targets']}"
            for label, violations in self.found.items()
            for violation in violations
        )
