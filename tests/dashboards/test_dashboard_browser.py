"""Proves the real app, opened in headless Chromium, shows the drift banner and models table,
the Promoter value page its losing-promoters banner, tables and channel chart, the Risk
triage page its case queue, a case's orders, timeline and shared-device graph, the anomaly
money-at-stake banner and flag tables (and that a case confirmed from the page reaches the books),
the Rate suggestions page its pending suggestions, what-if cost and experiment chart, and the
Finance page its last ledger verification, balances and the payouts and withdrawals waiting for a
decision.

It also saves a screenshot of each page and checks it is a real, non-blank image with the banner
painted in it.

The store is the drifted one of `tests/drift_store.py` (`refund_rate` of `fenrun-segments`
shifted). The app runs as a real `streamlit run` process on a free port, reading that store from
the `FENRUN_` environment; Debian's Chromium and chromedriver drive it through selenium. Without
the browser the test skips with the reason, except under CI=true, where it fails (as the
PostgreSQL tests do): CI must never go green by skipping the browser it is meant to use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image  # a dependency of streamlit

from tests.drift_store import DriftStore, build_drift_store
from tests.finance_store import CARD, build_finance_books
from tests.promoter_value_store import build_value_store
from tests.rates_books import build_rates_books
from tests.risk_cases_store import build_case_books
from tests.risk_store import write_flags

try:  # a dev extra: without it the browser fixture skips (fails under CI) and says why
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError as error:
    SELENIUM_MISSING: str | None = f"selenium not installed ({error}); pip install -e '.[dev]'"
else:
    SELENIUM_MISSING = None

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboards" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_TIMEOUT_S = 30.0  # streamlit up and answering /_stcore/health
RENDER_TIMEOUT_S = 30.0  # page rendered in the browser, banner and table included
STOP_TIMEOUT_S = 10.0  # streamlit gone after SIGTERM, else killed
WINDOW = (1400, 1100)  # tall enough for the banner, the models table and the first chart
pytestmark = pytest.mark.integration


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"headless browser unavailable under CI=true: {reason}")
    pytest.skip(f"headless browser unavailable: {reason}")


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        _unavailable(f"{', '.join(missing)} missing (apt-get install chromium chromium-driver)")
    if SELENIUM_MISSING:
        _unavailable(SELENIUM_MISSING)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    """Poll /_stcore/health until it answers ok; fail with the server log if it never does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/_stcore/health", timeout=1.0).text == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit did not become healthy (exit code {process.poll()}):\n"
                f"{log_path.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (streamlit shuts down on it), then SIGKILL if it lingers; the exit code."""
    process.terminate()
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    _require_browser()  # before the three seconds of building the store
    return build_drift_store(tmp_path_factory.mktemp("drifted"), drifted=True)


def _serve_app(books: dict[str, str], drifted: DriftStore, values: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `streamlit run dashboards/app.py` on `books` (FENRUN_ settings), the drifted
    model store and a snapshot store; its base URL while the caller holds it."""
    port = _free_port()
    env = {**os.environ, **books,
           "FENRUN_MLFLOW_TRACKING_URI": drifted.serving.mlflow_tracking_uri,
           "FENRUN_MLFLOW_EXPERIMENT": drifted.serving.mlflow_experiment,
           "FENRUN_FEATURE_STORE_DIR": values}
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    command = [str(Path(sys.executable).with_name("streamlit")), "run", str(APP),
               "--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(process, base_url, log_path)
        yield base_url
    finally:
        code = _stop(process)
    assert code == 0, f"streamlit exited {code} on SIGTERM:\n{log_path.read_text()[-2000:]}"


@pytest.fixture(scope="module")
def values_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A promoter value snapshot store that also holds the anomaly flags."""
    values = build_value_store(tmp_path_factory.mktemp("value")).feature_store_dir
    write_flags(Path(values))
    return str(values)


@pytest.fixture(scope="module")
def app_url(drifted: DriftStore, values_store: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the drifted store, the value snapshots and books with rate suggestions."""
    rates = build_rates_books(tmp_path_factory.mktemp("rates"))  # the Rate suggestions page
    yield from _serve_app({"FENRUN_DATABASE_URL": rates.url}, drifted, values_store,
                          tmp_path_factory)


@pytest.fixture(scope="module")
def finance_url(drifted: DriftStore, values_store: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on books with payouts, withdrawals, a bank batch and statements (and their key):
    other books than the rate suggestions', so a second server."""
    finance = build_finance_books(tmp_path_factory.mktemp("finance"))
    yield from _serve_app(finance, drifted, values_store, tmp_path_factory)


@pytest.fixture(scope="module")
def risk_url(drifted: DriftStore, values_store: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on books with two open risk cases (a third server: other books again)."""
    books = build_case_books(tmp_path_factory.mktemp("books"))
    yield from _serve_app({"FENRUN_DATABASE_URL": books}, drifted, values_store,
                          tmp_path_factory)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium through Debian's chromedriver: both paths given, so selenium never
    looks for (or downloads) a browser or driver of its own."""
    _require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: CI runs as root, where Chromium refuses its sandbox; /dev/shm may be tiny.
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER),
                      log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


# The a11y <table> glide-data-grid keeps beside its canvas: the rendered cells, header row first.
TABLE_ROWS_JS = """
const frame = document.querySelectorAll('[data-testid="stDataFrame"]')[arguments[0]];
if (!frame) { return []; }
return Array.from(frame.querySelectorAll('table[role="grid"] tr'),
                  row => Array.from(row.children, cell => cell.textContent));
"""
BANNER = '[data-testid="stAlertContentError"]'
CHART_MARKS = '[data-testid="stVegaLiteChart"] .marks'  # drawn charts, not just their frames
BUSY = '[data-testid="stStatusWidget"], [data-testid="stSpinner"]'


def _banner_text(driver: WebDriver) -> str:
    banners = driver.find_elements(By.CSS_SELECTOR, BANNER)
    return banners[0].text if banners else ""


def _rendered(driver: WebDriver) -> bool:
    """Banner, models table (header + three models) and both charts drawn, the script done."""
    return ("refund_rate" in _banner_text(driver)
            and len(driver.execute_script(TABLE_ROWS_JS, 0)) == 4
            and len(driver.find_elements(By.CSS_SELECTOR, CHART_MARKS)) == 2
            and not driver.find_elements(By.CSS_SELECTOR, BUSY))


def _assert_not_blank(png: Path) -> None:
    """A real image of the page: full window size, many colours, not one flat fill."""
    with Image.open(png) as image:
        assert image.format == "PNG", f"{png} is {image.format}"
        assert image.width >= 1000 and image.height >= 700, f"{png} is {image.size}"
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50, f"{png} has {len(colours or [])} colours"


def _wait_rendered(driver: WebDriver, rendered: object, png: Path) -> None:
    """Wait for `rendered(driver)`; on timeout fail with a screenshot and the page text."""
    try:
        WebDriverWait(driver, RENDER_TIMEOUT_S, poll_frequency=0.25).until(rendered)
    except TimeoutException:
        driver.save_screenshot(str(png))
        pytest.fail(f"page not rendered in {RENDER_TIMEOUT_S:g} s; screenshot: {png}\n"
                    f"{driver.find_element(By.TAG_NAME, 'body').text[:2000]}")
    assert driver.save_screenshot(str(png)), f"no screenshot written to {png}"
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), png


def _assert_banner_painted(png: Path, driver: WebDriver) -> None:
    """The banner's box in the screenshot is mostly the error pink, not the page white."""
    rect = driver.find_element(By.CSS_SELECTOR, '[data-testid="stAlertContainer"]').rect
    ratio = driver.execute_script("return window.devicePixelRatio")
    box = tuple(round(v * ratio) for v in (rect["x"], rect["y"], rect["x"] + rect["width"],
                                            rect["y"] + rect["height"]))
    with Image.open(png) as image:
        colours = image.convert("RGB").crop(box).getcolors(maxcolors=1 << 16) or []
    _, (red, green, blue) = max(colours)
    assert red > green + 10 and red > blue + 10, f"banner at {box} is {red, green, blue}: {png}"


def test_banner_and_models_table_render_in_chromium(app_url: str, browser: WebDriver,
                                                    tmp_path: Path) -> None:
    png = tmp_path / "model_health.png"
    browser.get(app_url)
    _wait_rendered(browser, _rendered, png)
    banner = _banner_text(browser)
    assert "Drift in critical features" in banner, f"{banner!r}; screenshot: {png}"
    assert "fenrun-segments: refund_rate" in banner, f"{banner!r}; screenshot: {png}"
    assert "fenrun-steady" not in banner and "gmv_90d" not in banner, f"{banner!r}; {png}"
    header, *rows = browser.execute_script(TABLE_ROWS_JS, 0)
    assert header[:4] == ["model", "champion", "drift", "drifted features"], f"{header}; {png}"
    drift = {row[0]: (row[1], row[2], row[3]) for row in rows}
    assert drift == {"fenrun-segments": ("v1", "🔴 drifted", "refund_rate"),
                     "fenrun-steady": ("v1", "🟢 no drift", ""),
                     "fenrun-unchecked": ("v1", "⚪ no drift check yet", "")}, f"{drift}; {png}"

    _assert_not_blank(png)
    _assert_banner_painted(png, browser)



def _value_rendered(driver: WebDriver) -> bool:
    """Losing-promoters banner, the four tables (segments, channels, losing, every promoter)
    with their rows, the channel chart drawn, the script done."""
    rows = [len(driver.execute_script(TABLE_ROWS_JS, i)) for i in range(4)]
    return ("cost more than their customers are worth" in _banner_text(driver)
            and rows == [4, 3, 4, 6]
            and len(driver.find_elements(By.CSS_SELECTOR, CHART_MARKS)) == 1
            and not driver.find_elements(By.CSS_SELECTOR, BUSY))


def test_promoter_value_page_renders_in_chromium(app_url: str, browser: WebDriver,
                                                 tmp_path: Path) -> None:
    png = tmp_path / "promoter_value.png"
    browser.get(f"{app_url}/promoter_value")
    _wait_rendered(browser, _value_rendered, png)
    assert "3 promoters cost more" in _banner_text(browser), png  # margin basis
    header, *rows = browser.execute_script(TABLE_ROWS_JS, 2)  # confidently below break-even
    assert header[:2] == ["promoter_id", "channel"], f"{header}; {png}"
    assert [header[4], header[5], header[7]] == ["basis", "contribution LTV", "CAC"], header
    assert [(row[0], row[4], row[5], row[7]) for row in rows] == [
        ("P-LOSS", "margin", "420.00", "4000.00"), ("P-OK", "margin", "1725.00", "2500.00"),
        ("P-MEH", "margin", "350.00", "2000.00")], f"{rows}; {png}"
    _assert_not_blank(png)
    _assert_banner_painted(png, browser)


# The page's tables in order: the case queue, the chosen case's orders, its trail, then the
# anomaly flags' "money to hold first" and "every flagged promoter".
QUEUE, ORDERS, TRAIL, HOLDABLE, FLAGGED = range(5)
GRAPH = '[data-testid="stGraphVizChart"] svg g.node'


def _triage_rendered(driver: WebDriver) -> bool:
    rows = [len(driver.execute_script(TABLE_ROWS_JS, i)) for i in range(5)]
    return ("of commission not yet paid" in _banner_text(driver)
            and rows[QUEUE] == 3 and rows[ORDERS] == 4 and rows[HOLDABLE:] == [3, 5]
            and len(driver.find_elements(By.CSS_SELECTOR, GRAPH)) >= 5
            and driver.find_elements(By.CSS_SELECTOR, CHART_MARKS)  # the timeline
            and not driver.find_elements(By.CSS_SELECTOR, BUSY))


def test_risk_triage_page_renders_in_chromium(risk_url: str, browser: WebDriver,
                                              tmp_path: Path) -> None:
    png = tmp_path / "risk_triage.png"
    browser.get(f"{risk_url}/risk_triage")
    _wait_rendered(browser, _triage_rendered, png)
    assert "2 flagged promoters have 1700.00 CNY" in _banner_text(browser), png
    header, *cases = browser.execute_script(TABLE_ROWS_JS, QUEUE)
    assert header[:4] == ["case", "promoter", "status", "money at risk"], f"{header}; {png}"
    assert [(row[1], row[3]) for row in cases] == [("F", "764.83"), ("H2", "250.00")], png
    header, *rows = browser.execute_script(TABLE_ROWS_JS, HOLDABLE)  # money to hold first
    assert header[:4] == ["rank", "promoter", "anomaly score", "unpaid"], f"{header}; {png}"
    assert [(row[1], row[3]) for row in rows] == [("R4", "1200.00"), ("R1", "500.00")], (
        f"{rows}; {png}")
    _assert_not_blank(png)
    banner = browser.find_element(By.CSS_SELECTOR, '[data-testid="stAlertContainer"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", banner)
    flags_png = tmp_path / "risk_triage_flags.png"
    time.sleep(0.5)  # the scroll settles before the screenshot
    assert browser.save_screenshot(str(flags_png)), flags_png
    _assert_banner_painted(flags_png, browser)


def _confirmed(driver: WebDriver) -> bool:
    found = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentSuccess"]')
    return bool(found) and "confirmed by ana" in found[0].text and not driver.find_elements(
        By.CSS_SELECTOR, BUSY)


def test_a_case_is_confirmed_from_the_page_in_chromium(risk_url: str, browser: WebDriver,
                                                       tmp_path: Path) -> None:
    """Runs last: it changes the books the page reads (case 1 confirmed)."""
    png = tmp_path / "risk_case_confirmed.png"
    browser.get(f"{risk_url}/risk_triage")
    _wait_rendered(browser, _triage_rendered, tmp_path / "before.png")
    name = browser.find_element(By.CSS_SELECTOR,
                                'input[aria-label="your name (recorded on the trail)"]')
    name.send_keys("ana", Keys.ENTER)
    note = browser.find_element(By.CSS_SELECTOR,
                                'textarea[aria-label="note: why (required to dismiss)"]')
    note.send_keys("same phone as the promoter")
    note.send_keys(Keys.TAB)
    WebDriverWait(browser, RENDER_TIMEOUT_S, poll_frequency=0.25).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, BUSY))
    [confirm] = [b for b in browser.find_elements(By.TAG_NAME, "button")
                 if b.text == "Confirm fraud"]
    confirm.click()
    _wait_rendered(browser, _confirmed, png)
    banner = browser.find_element(By.CSS_SELECTOR, '[data-testid="stAlertContentSuccess"]').text
    assert "764.83 CNY reversed in 3 ledger entries, promoter suspended" in banner, png
    header, *cases = browser.execute_script(TABLE_ROWS_JS, QUEUE)
    assert [row[1] for row in cases] == ["H2"], f"{cases}; {png}"  # the queue moved on
    _assert_not_blank(png)


def _rates_rendered(driver: WebDriver) -> bool:
    """Pending (3 + header), experiment (4 + header) and what-if per segment (1 + header)
    tables, the realised-vs-predicted chart drawn, the script done."""
    rows = [len(driver.execute_script(TABLE_ROWS_JS, i)) for i in range(3)]
    return (rows == [4, 5, 2] and len(driver.find_elements(By.CSS_SELECTOR, CHART_MARKS)) == 1
            and not driver.find_elements(By.CSS_SELECTOR, BUSY))


def test_rate_suggestions_page_renders_in_chromium(app_url: str, browser: WebDriver,
                                                   tmp_path: Path) -> None:
    png = tmp_path / "rate_suggestions.png"
    browser.get(f"{app_url}/rate_suggestions")
    _wait_rendered(browser, _rates_rendered, png)
    header, *rows = browser.execute_script(TABLE_ROWS_JS, 0)
    assert header[:3] == ["promoter", "rate", "mode"], f"{header}; {png}"
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("T2", "0.1 → 0.11", "shadow"), ("P5", "0.1 → 0.08", "live"),
        ("T1", "0.1 → 0.12", "live")], f"{rows}; {png}"
    header, *rows = browser.execute_script(TABLE_ROWS_JS, 2)
    assert rows == [["(no segment)", "35.00", "39.00", "+4.00"]], f"{header} {rows}; {png}"
    _assert_not_blank(png)


SUCCESS = '[data-testid="stAlertContentSuccess"]'


def _finance_rendered(driver: WebDriver) -> bool:
    """The last verification, the promoters, merchants and waiting tables with their rows."""
    rows = [len(driver.execute_script(TABLE_ROWS_JS, i)) for i in range(3)]
    banners = driver.find_elements(By.CSS_SELECTOR, SUCCESS)
    return (bool(banners) and "Last verification" in banners[0].text and rows == [4, 2, 3]
            and not driver.find_elements(By.CSS_SELECTOR, BUSY))


def test_finance_page_renders_in_chromium(finance_url: str, browser: WebDriver,
                                          tmp_path: Path) -> None:
    png = tmp_path / "finance.png"
    browser.get(f"{finance_url}/finance")
    _wait_rendered(browser, _finance_rendered, png)
    banner = browser.find_elements(By.CSS_SELECTOR, SUCCESS)[0].text
    assert "by test: every entry balances" in banner, f"{banner!r}; {png}"
    header, *rows = browser.execute_script(TABLE_ROWS_JS, 2)  # waiting for a decision
    assert header[:4] == ["kind", "id", "promoter", "amount"], f"{header}; {png}"
    assert [(row[0], row[2], row[3], row[5]) for row in rows] == [
        ("payout", "P1", "20000.00", "review_limit"),
        ("withdrawal", "P1", "15000.00", "review_limit")], f"{rows}; {png}"
    assert CARD not in browser.page_source, png  # masked, bank file aside
    _assert_not_blank(png)
