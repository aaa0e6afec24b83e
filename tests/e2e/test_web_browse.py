"""Finding things among many in the web UI: searched, counted pages with next/previous links.

Real uvicorn on loopback; the pages are read as a browser without JavaScript would read them,
following the links the page itself offers.
"""

from __future__ import annotations

import re
from html import unescape

from signoff.sdk._embedded import EmbeddedClient
from signoff.services import registry
from tests.conftest import DIGEST, unique
from tests.fixtures.web import Stack, Visitor, stack  # noqa: F401

MODEL_LINK = re.compile(r'<a href="/models/([^"/]+)"><strong>')
VERSION_LINK = re.compile(r'<th scope="row"><a href="/models/[^"/]+/versions/(\d+)"')


def rel(html: str, name: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{name}">', html)
    return unescape(found.group(1)) if found else None


def models_on(html: str) -> list[str]:
    return MODEL_LINK.findall(html)


def walk(visitor: Visitor, start: str, direction: str, pattern: re.Pattern[str]) -> tuple[list[list[str]], list[str]]:
    """Follow `direction` links from `start`; the items of each page and each page's count line."""
    pages, counts, url = [], [], start
    while url is not None:
        response = visitor.get(url)
        assert response.status_code == 200, (url, response.text[-800:])
        pages.append(pattern.findall(response.text))
        counts.append(re.search(r'<p class="count">([^<]+)</p>', response.text).group(1))  # type: ignore[union-attr]
        url = rel(response.text, direction)
        assert len(pages) < 50, "the links go round in circles"
    return pages, counts


def create_models(stack: Stack, names: list[str], **kw: object) -> None:
    for name in names:
        registry.create_model(uow=stack.ctx.uow(), name=name, actor="dana", **kw)  # type: ignore[arg-type]


class TestModelsList:
    def test_every_model_is_reachable_through_next_and_previous_links(self, stack: Stack) -> None:  # noqa: F811
        names = [f"churn-{i:03d}" for i in range(120)]
        create_models(stack, names)
        dana = stack.visitor()
        dana.sign_in("dana")
        pages, counts = walk(dana, "/models", "next", MODEL_LINK)
        assert [len(p) for p in pages] == [50, 50, 20]
        assert [n for p in pages for n in p] == names  # every one, in order, none twice
        assert counts == ["Showing 1–50 of 120 models · page 1 of 3", "Showing 51–100 of 120 models · page 2 of 3",
                          "Showing 101–120 of 120 models · page 3 of 3"]
        last = dana.get("/models?page=3").text
        assert rel(last, "next") is None and "churn-119" in models_on(last)
        back, _ = walk(dana, "/models?page=3", "prev", MODEL_LINK)
        assert [p[0] for p in back] == ["churn-100", "churn-050", "churn-000"]
        assert rel(dana.get("/models?page=2").text, "last") == "/models?page=3"

    def test_a_page_past_the_end_says_so_and_links_back(self, stack: Stack) -> None:  # noqa: F811
        create_models(stack, [unique() for _ in range(3)])
        dana = stack.visitor()
        dana.sign_in("dana")
        page = dana.get("/models?page=9")
        assert page.status_code == 200 and models_on(page.text) == []
        assert 'href="/models">go to the first page' in page.text
        assert dana.get("/models?page=0").status_code == 422

    def test_search_by_name_tag_owner_group_and_live_environment(self, stack: Stack) -> None:  # noqa: F811
        create_models(stack, ["fraud-a", "fraud-b"], owner_group="risk", tags={"team": "risk", "pii": "yes"})
        create_models(stack, ["churn-a"], owner_group="data-science", tags={"team": "growth"})
        create_models(stack, ["churn_100"], owner_group="data-science")
        create_models(stack, ["churnx100"])
        EmbeddedClient(actor="dana", context=stack.ctx).register("churn-a", "s3://m/c.pkl", digest=DIGEST,
                                                                  metrics={"accuracy": 0.95})
        EmbeddedClient(actor="rita", context=stack.ctx).decide(1, "approve", "fine")  # live in dev
        dana = stack.visitor()
        dana.sign_in("dana")

        def found(**params: str) -> list[str]:
            response = dana.get("/models", params=params)
            assert response.status_code == 200, response.text[-800:]
            return sorted(models_on(response.text))

        assert found(q="FRAUD") == ["fraud-a", "fraud-b"]
        assert found(q="n_1") == ["churn_100"]  # LIKE wildcards are matched literally
        assert found(q="%") == []
        assert found(tag="pii") == ["fraud-a", "fraud-b"]
        assert found(tag="team=growth") == ["churn-a"]
        assert found(tag="team = risk", q="b") == ["fraud-b"]
        assert found(group="data-science") == sorted(["churn-a", "churn_100"])
        assert found(live="dev") == ["churn-a"]
        assert found(live="prod") == []
        assert found(live="nowhere") == sorted(["churn-a", "churn_100", "churnx100", "fraud-a", "fraud-b"])  # unknown: no filter
        page = dana.get("/models", params={"q": "zzz"}).text
        assert "No model matches these filters." in page and 'href="/models">Clear</a>' in page
        # the filters survive paging
        create_models(stack, [f"fraud-{i:02d}" for i in range(60)], owner_group="risk")
        first = dana.get("/models", params={"group": "risk", "size": "25"}).text
        assert rel(first, "next") == "/models?group=risk&size=25&page=2"
        assert "Showing 1–25 of 62 models" in first


class TestBoard:
    def test_older_versions_are_reachable_through_the_links(self, stack: Stack) -> None:  # noqa: F811
        model = unique()
        client = EmbeddedClient(actor="dana", context=stack.ctx)
        for _ in range(23):
            client.register(model, "s3://m/m.pkl", digest=DIGEST, metrics={"accuracy": 0.95})
        dana = stack.visitor()
        dana.sign_in("dana")
        pages, counts = walk(dana, f"/models/{model}?size=10", "next", VERSION_LINK)
        assert [[int(v) for v in p] for p in pages] == [list(range(23, 13, -1)), list(range(13, 3, -1)), [3, 2, 1]]
        assert counts[-1] == "Showing 21–23 of 23 versions · page 3 of 3"
        default = dana.get(f"/models/{model}").text
        assert len(VERSION_LINK.findall(default)) == 23 and rel(default, "next") is None
        assert "Showing 1–23 of 23 versions" in default
