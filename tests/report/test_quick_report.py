"""A rendered report holds the whole study: the quick one (`make test-report` renders it first)
or, with REPORT_DIR set, another rendering (CI re-renders the committed full study there)."""
import base64
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("REPORT_DIR") or ROOT / "reports" / "quick")


@pytest.fixture(scope="module")
def html() -> str:
    path = OUT / "report.html"
    if not path.exists():
        pytest.fail(f"{path} does not exist: run `make report PROFILE=quick` first (or set "
                    f"REPORT_DIR to the folder of a rendered report)")
    return path.read_text()


def test_tables_and_figures(html):
    # the seed's Tables 1-4 and Figures 1-7, then ours: Table 5 (sample quality), Figure 8 (seed
    # spread), 9 (IWAE vs K), 10 (sample classes), 11-12 (chain mixing)
    for n in range(1, 6):
        assert f"Table {n}." in html, f"Table {n} missing"
    for n in range(1, 13):
        assert f"Figure {n}." in html, f"Figure {n} missing"
    # every figure is an embedded image, not a link to a file
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) >= 12


def test_beyond_the_seed(html):
    assert "IWAE bound at a few K" in html
    assert "Does the ELBO rank the models as the tighter bound does?" in html
    assert "The classifier reaches" in html and "Fréchet distance" in html
    assert "Chain mixing at a glance" in html
    assert "± " in html, "run B's seed spread is missing"          # mean ± sd over seeds
    verdicts = re.findall(r'<td class="verdict"[^>]*>(reproduced|not reproduced|unclear)</td>', html)
    assert len(verdicts) >= 12


def test_the_report_opens_with_a_summary_then_the_claims_and_a_contents_that_resolves(html):
    body = html[html.index("<body"):]
    summary = body.index("Scope.")
    claims = body.index('<table class="claims"')
    assert summary < body.index("Results.") < body.index("Why they differ.") < claims
    assert claims < body.index('id="Deviations-from-the-seed"') < body.index('id="Training-set-up"')
    for section in ("Discussion-and-limitations", "References", "Appendix:-the-claims-in-full"):
        assert f'id="{section}"' in body
    toc = re.search(r'<nav class="toc">(.*?)</nav>', body, re.S)
    assert toc and summary < toc.start() < claims
    ids = set(re.findall(r'id="([^"]+)"', body))
    links = re.findall(r'href="#([^"]+)"', toc.group(1))
    assert len(links) >= 10 and not [link for link in links if link not in ids]


def test_every_verdict_shows_its_effect_and_the_appendix_its_words(html):
    compact = re.findall(r'<table class="claims".*?</table>', html, re.S)[0]
    appendix = re.search(r'<summary>Show every claim.*?(<table class="claims".*?</table>)', html,
                         re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", compact, re.S)[1:]
    assert len(rows) >= 12
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        # the claim in a few words, its verdict, the effect with its interval, seeds and δ
        assert len(cells) == 3 and "δ = " in cells[2] or cells[2] == "—", row[:200]
        assert re.search(r"seeds?\b|n = ", cells[2]) or cells[2] == "—", row[:200]
    full = re.findall(r"<tr>(.*?)</tr>", appendix, re.S)[1:]
    assert len(full) == len(rows)
    for row in full:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert len(cells) == 5 and cells[1].startswith("“"), row[:200]



def test_every_image_has_alt_text_and_no_parameter_line_shows(html):
    images = re.findall(r"<img[^>]*>", html)
    assert images and all('alt="' in i and "No description" not in i for i in images)
    assert "Parameters: `profile`" not in html and "names the folder" not in html


def test_seed_numbers_sit_beside_ours(html):
    for seed_value in ("56.41", "33.79", "50.14", "8.52", "1,157,777"):
        assert seed_value in html


def test_all_fourteen_chains_are_playable_gifs(html):
    gifs = re.findall(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(gifs) == 14
    for g in gifs:
        data = base64.b64decode(g)
        assert data[:6] in (b"GIF87a", b"GIF89a")
        assert data.count(b"\x21\xf9\x04") > 2     # graphic control blocks: many frames
        assert b"NETSCAPE2.0" in data              # looping animation


def test_no_warnings_or_tracebacks_leak_into_the_report(html):
    assert "Warning:" not in html and "Traceback" not in html


def test_html_reads_offline_and_hides_code(html):
    assert not re.search(r'<script[^>]+src="https?://', html), "a script is loaded from the web"
    assert "import vae_core" not in html


def test_pdf_exists():
    pdf = OUT / "report.pdf"
    assert pdf.exists() and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 100_000


def _latex_outputs() -> list[str]:
    import json
    nb = json.loads((OUT / "report.ipynb").read_text())
    return ["".join(o["data"]["text/latex"]) if isinstance(o["data"]["text/latex"], list)
            else o["data"]["text/latex"]
            for cell in nb["cells"] for o in cell.get("outputs", [])
            if "text/latex" in o.get("data", {})]


def test_pdf_figures_float_with_their_captions_and_tables_keep_theirs():
    latex = _latex_outputs()
    floats = [t for t in latex if t.startswith("\\begin{figure}")]
    # Figures 1-12 and one filmstrip per run, each a float of a PNG saved beside the report
    assert len(floats) >= 14
    for figure in floats:
        path = re.search(r"\\adjustimage\{[^}]*\}\{[^}]*\}\}\{([^}]+)\}", figure).group(1)
        assert (OUT / path).is_file(), f"the PDF would miss {path}"
        assert "\\textbf{" in figure or "Limiting distribution" in figure   # its caption inside
    captions = [t for t in latex if t.startswith("\\par\\Needspace")
                or t.startswith("\\begin{landscape}")]      # a landscape table carries its own
    assert sum("Table" in c for c in captions) >= 5         # Tables 1-5 keep their captions
    # every table whole: one longtable each, no column groups, no text below 8 pt
    tables = [t for t in latex if "longtable" in t]
    assert tables and all(t.count("\\begin{longtable}") == 1 for t in tables)
    assert not any(re.search(r"Columns, part|\\tiny\b|adjustbox", t) for t in tables)


def test_the_seed_faithful_variant_is_reported(html):
    assert 'id="The-seed’s-broken-chain,-rebuilt"' in html or "broken chain, rebuilt" in html
    assert "The seed’s chains on the seed-faithful models" in html or \
        "The seed's chains on the seed-faithful models" in html or "are not in this study" in html


def test_the_pdf_has_no_landscape_table_and_few_half_empty_pages():
    """Every table fits a portrait page at ≥ 8 pt; at most two pages (the last aside) end above
    their middle (scripts/pdf_page_fill.py: pdftoppm, which `make latex` installs)."""
    import importlib.util
    import shutil
    assert not any("\\begin{landscape}" in t for t in _latex_outputs())
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: `make latex` installs poppler-utils beside xelatex")
    spec = importlib.util.spec_from_file_location("pdf_page_fill", ROOT / "scripts" / "pdf_page_fill.py")
    fill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fill)
    pages = fill.page_fill(str(OUT / "report.pdf"))
    assert sum(f < 50 for f in pages[:-1]) <= 2, pages
